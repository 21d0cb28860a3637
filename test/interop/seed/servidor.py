# servidor.py: the seed document's server ("Código 1" to "Código 4"), kept as written.
# Only the changes needed to run it headless under test are made; each is marked "CAMBIO (test)".
import cv2, socket  # CAMBIO (test): imutils dropped, its resize is the one-liner below
import numpy as np
import time
import base64
import struct
import os, sys  # CAMBIO (test): host, port and video from argv; headless switch from the environment

# CAMBIO (test): windows and keys only with a display (SEED_HEADLESS=1 forces them off)
MOSTRAR = bool(os.environ.get('DISPLAY')) and not os.environ.get('SEED_HEADLESS')

socket_servidor = socket.socket(socket.AF_INET, socket.SOCK_STREAM)

# CAMBIO (test): the seed binds its LAN address found from the host name:
#   nombre_equipo = socket.gethostname()
#   ip_servidor = socket.gethostbyname(nombre_equipo)
# under test it binds the address given (127.0.0.1), and the port given (a free one: no port 0 here).
ip_servidor = sys.argv[1] if len(sys.argv) > 1 else '127.0.0.1'
print('IP del Servidor:', ip_servidor)
puerto = int(sys.argv[2]) if len(sys.argv) > 2 else 9999

# Asociar la IP y puerto y se pone en modo pasivo
socket_servidor.bind((ip_servidor, puerto))
socket_servidor.listen(5)
print(f'Escuchando en la IP :{ip_servidor} y Puerto:{puerto}', flush=True)  # CAMBIO (test): flush

# Espera cliente
socket_cliente, direccion_cliente = socket_servidor.accept()
print('Conexión desde el cliente:', direccion_cliente)

# Abrir archivo de video
nombre_video = sys.argv[3] if len(sys.argv) > 3 else 'video.mp4'  # CAMBIO (test): path from argv
video = cv2.VideoCapture(nombre_video)
# Variables que nos sirven para calcular el rendimiento (FPS)
fps, tiempo_inicio, frames_para_contar, contador = (0, 0, 40, 0)

try:
    while video.isOpened():
        #Leer los cuadros del video (retorno True) y return False si el video se acaba retorno es False
        retorno, cuadro = video.read()
        if not retorno: break
        # Escalamos la imagen para reducir el ancho para que pese menos
        # CAMBIO (test): was cuadro = imutils.resize(cuadro, width=800)
        h, w = cuadro.shape[:2]
        cuadro = cv2.resize(cuadro, (800, int(h * (800/float(w)))), interpolation=cv2.INTER_AREA)
        #convertimos los cuadros de imagen a formato jpg con una calidad de 80
        codificado, buffer = cv2.imencode('.jpg', cuadro, [cv2.IMWRITE_JPEG_QUALITY, 80])
        mensaje = base64.b64encode(buffer) #convierte los bytes a texto de base64

        #lo primero que hacemos es ver el tamaño del mensaje (bytes convertidos en base64),
        #con struct.pack, convertimos el numero en una cadena y posteriormente con
        #socket_cliente.sendall() enviamos el tamaño del mensaje y el mensaje real
        tam = len(mensaje)
        socket_cliente.sendall(struct.pack(">L", tam) + mensaje)
        # Se dibuja en el recuadro de la imagen emergente el rendimiento (FPS)
        cuadro = cv2.putText(cuadro, 'FPS: '+str(fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
        if MOSTRAR:  # CAMBIO (test): no window, no key without a display
            cv2.imshow('TRANSMITIENDO', cuadro) #Nombre de pestanya

            # Para salir y romper el bucle, se presiona la tecla "q"
            tecla = cv2.waitKey(1) & 0xFF
            if tecla == ord('q'):
                break

        # calculamos los FPS cada 40 cuadros transmitidos
        if contador == frames_para_contar:
            try:
                fps = round(frames_para_contar/(time.time()-tiempo_inicio))
                tiempo_inicio = time.time()
                contador = 0
            except: pass
            contador += 1
finally:
    # Se cierra los sockets (conexiones) y ventanas al terminar
    socket_cliente.close()
    socket_servidor.close()
    video.release()
    if MOSTRAR:  # CAMBIO (test): no windows to destroy without a display
        cv2.destroyAllWindows()

# cliente.py: the seed document's client ("Código 5" and "Código 6"), kept as written.
# Only the changes needed to run it headless under test are made; each is marked "CAMBIO (test)".
# The benchmark (bench/throughput.ts) runs this same file and reads its first-to-last-frame timing.
import cv2, socket, numpy as np, time, base64, struct
import os, sys, json  # CAMBIO (test): address from argv, headless switch, one result line at the end

# CAMBIO (test): windows and keys only with a display (SEED_HEADLESS=1 forces them off)
MOSTRAR = bool(os.environ.get('DISPLAY')) and not os.environ.get('SEED_HEADLESS')
# CAMBIO (test): what the test checks: frames decoded, frames imdecode could not read, sizes seen
cuadros_recibidos, cuadros_malos, tamanos = 0, 0, set()
primero, ultimo, total_bytes = None, None, 0  # CAMBIO (test): timing

# Configura el socket del cliente para usar TCP
socket_cliente = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ip_servidor = sys.argv[1] if len(sys.argv) > 1 else '192.168.1.20'  # CAMBIO (test): from argv
puerto = int(sys.argv[2]) if len(sys.argv) > 2 else 9999  # CAMBIO (test): from argv

# Nos conectamos con el servidor
socket_cliente.connect((ip_servidor, puerto))

datos_recibidos = b"" # Buffer para acumular los datos
tam_encabezado = struct.calcsize(">L") # El encabezado debe medir 4 bytes
# Variables que nos sirven para calcular el rendimiento (FPS)
fps, tiempo_inicio, frames_para_contar, contador = (0, 0, 40, 0)

while True:
    # Recibimos los primero 4 bytes para saber de que tamaño es la imagen a recibir
    while len(datos_recibidos) < tam_encabezado:
        paquete = socket_cliente.recv(4096) #leemos los 4096 bytes, paquetes
        if not paquete: break
        datos_recibidos += paquete

    if not datos_recibidos: break

    # Extraemos el tamaño de lo recibido y se limpia el buffer de esos 4 bytes recibidos
    encabezadoempaquetado = datos_recibidos[:tam_encabezado]
    datos_recibidos = datos_recibidos[tam_encabezado:]
    tam_mensaje = struct.unpack(">L", encabezadoempaquetado)[0]

    # continuamos recibiendo los datos hasta completar el tamaño de datos de la imagen
    while len(datos_recibidos) < tam_mensaje:
        datos_recibidos += socket_cliente.recv(4096) #leemos los 4096 bytes

    # Se extrae los datos de cada cuadro y se guarda el resto para la siguiente iteracion
    datos_cuadro = datos_recibidos[:tam_mensaje]
    datos_recibidos = datos_recibidos[tam_mensaje:]

    #reconstruccion de imagen
    #Pasamos de la base64 a bytes, y de bytes a una matriz numpy de tipo uint.8
    #posteriormente se pasa a imagen con OpenCV para reconstruir el cuadro
    imagen_binaria = base64.b64decode(datos_cuadro)
    datos_numpy = np.frombuffer(imagen_binaria, dtype=np.uint8)
    cuadro = cv2.imdecode(datos_numpy, 1)

    # CAMBIO (test): count the frame; a frame imdecode cannot read is counted (the seed would crash
    # in putText on None) and skipped
    if cuadro is None:
        cuadros_malos += 1
        continue
    cuadros_recibidos += 1
    # CAMBIO (test): arrival of the first and the last frame, bytes on the wire
    ahora = time.time()
    if primero is None: primero = ahora
    ultimo = ahora
    total_bytes += 4 + tam_mensaje
    tamanos.add('%dx%d' % (cuadro.shape[1], cuadro.shape[0]))

    # Se dibuja en el recuadro de la imagen emergente el rendimiento (FPS)
    cuadro = cv2.putText(cuadro, 'FPS: '+str(fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
    if MOSTRAR:  # CAMBIO (test): no window, no key without a display
        cv2.imshow("RECIBIDO", cuadro) #nombre de pestanya

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

socket_cliente.close()
if MOSTRAR:  # CAMBIO (test): no windows to destroy without a display
    cv2.destroyAllWindows()
# CAMBIO (test): one line for the test
print(json.dumps({'frames': cuadros_recibidos, 'badFrames': cuadros_malos, 'sizes': sorted(tamanos),
                  'seconds': (ultimo - primero) if cuadros_recibidos > 1 else 0.0,  # CAMBIO (test)
                  'bytes': total_bytes}), flush=True)

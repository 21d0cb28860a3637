"""The seed's cliente.py, headless, for benchmarks.

Faithful to the seed's receive loop (recv(4096) into a growing bytes buffer, struct.unpack(">L"),
base64 decode, cv2.imdecode, putText of the FPS) without the window (imshow/waitKey), with the
server address from the command line, and with two guards a benchmark needs: it stops at the
server's close instead of spinning, and it prints one JSON line (frames, seconds, bytes) at the end.

Usage: cliente.py HOST PORT
"""
import base64
import json
import socket
import struct
import sys
import time

import cv2
import numpy as np


def main():
    ip_servidor, puerto = sys.argv[1], int(sys.argv[2])
    socket_cliente = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socket_cliente.connect((ip_servidor, puerto))

    datos_recibidos = b""
    tam_encabezado = struct.calcsize(">L")
    fps, tiempo_inicio, frames_para_contar, contador = (0, 0, 40, 0)
    frames, total, primero, ultimo, width, height = 0, 0, None, None, 0, 0
    cerrado = False
    while True:
        while len(datos_recibidos) < tam_encabezado:
            paquete = socket_cliente.recv(4096)
            if not paquete:
                cerrado = True
                break
            datos_recibidos += paquete
        if cerrado or not datos_recibidos:
            break
        encabezadoempaquetado = datos_recibidos[:tam_encabezado]
        datos_recibidos = datos_recibidos[tam_encabezado:]
        tam_mensaje = struct.unpack(">L", encabezadoempaquetado)[0]
        while len(datos_recibidos) < tam_mensaje:
            paquete = socket_cliente.recv(4096)
            if not paquete:
                cerrado = True
                break
            datos_recibidos += paquete
        if cerrado:
            break
        datos_cuadro = datos_recibidos[:tam_mensaje]
        datos_recibidos = datos_recibidos[tam_mensaje:]
        imagen_binaria = base64.b64decode(datos_cuadro)
        datos_numpy = np.frombuffer(imagen_binaria, dtype=np.uint8)
        cuadro = cv2.imdecode(datos_numpy, 1)
        cuadro = cv2.putText(cuadro, 'FPS: ' + str(fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX,
                             0.7, (0, 0, 255), 2)
        ahora = time.time()
        if primero is None:
            primero = ahora
        ultimo = ahora
        frames += 1
        total += 4 + tam_mensaje
        height, width = cuadro.shape[:2]
        if contador == frames_para_contar:
            try:
                fps = round(frames_para_contar / (time.time() - tiempo_inicio))
                tiempo_inicio = time.time()
                contador = 0
            except Exception:
                pass
        contador += 1
    socket_cliente.close()
    seconds = (ultimo - primero) if frames > 1 else 0.0
    print(json.dumps({'frames': frames, 'seconds': seconds, 'bytes': total, 'width': width,
                      'height': height}), flush=True)


if __name__ == '__main__':
    main()

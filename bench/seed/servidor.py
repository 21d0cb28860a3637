"""The seed's servidor.py, headless, for benchmarks.

Faithful to the seed's loop (cv2.VideoCapture -> resize to width 800 -> imencode q80 -> base64 ->
sendall of struct.pack(">L", len) + message, putText of the FPS), with three changes a benchmark needs:
imutils.resize is replaced by what it does (cv2.resize with INTER_AREA, height int(h * 800 / w)),
the window (imshow/waitKey) is gone, and host, port and file come from the command line.
Prints "listening PORT" once it listens (port 0 picks a free one).

Usage: servidor.py VIDEO [PORT] [HOST]
"""
import base64
import socket
import struct
import sys
import time

import cv2


def resize(cuadro, width):
    # imutils.resize(image, width=w): keep the aspect ratio, INTER_AREA, height truncated.
    (h, w) = cuadro.shape[:2]
    r = width / float(w)
    return cv2.resize(cuadro, (width, int(h * r)), interpolation=cv2.INTER_AREA)


def main():
    nombre_video = sys.argv[1]
    puerto = int(sys.argv[2]) if len(sys.argv) > 2 else 9999
    ip_servidor = sys.argv[3] if len(sys.argv) > 3 else '127.0.0.1'
    socket_servidor = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    socket_servidor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    socket_servidor.bind((ip_servidor, puerto))
    socket_servidor.listen(5)
    print('listening', socket_servidor.getsockname()[1], flush=True)
    socket_cliente, direccion_cliente = socket_servidor.accept()

    video = cv2.VideoCapture(nombre_video)
    fps, tiempo_inicio, frames_para_contar, contador = (0, 0, 40, 0)
    try:
        while video.isOpened():
            retorno, cuadro = video.read()
            if not retorno:
                break
            cuadro = resize(cuadro, 800)
            codificado, buffer = cv2.imencode('.jpg', cuadro, [cv2.IMWRITE_JPEG_QUALITY, 80])
            mensaje = base64.b64encode(buffer)
            tam = len(mensaje)
            socket_cliente.sendall(struct.pack(">L", tam) + mensaje)
            cuadro = cv2.putText(cuadro, 'FPS: ' + str(fps), (10, 40), cv2.FONT_HERSHEY_SIMPLEX,
                                 0.7, (0, 0, 255), 2)
            if contador == frames_para_contar:
                try:
                    fps = round(frames_para_contar / (time.time() - tiempo_inicio))
                    tiempo_inicio = time.time()
                    contador = 0
                except Exception:
                    pass
                contador += 1
    finally:
        socket_cliente.close()
        socket_servidor.close()
        video.release()


if __name__ == '__main__':
    main()

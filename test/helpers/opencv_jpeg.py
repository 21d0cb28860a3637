"""Encodes raw RGB24 frames with OpenCV's cv2.imencode, as the seed's servidor.py does.

Usage: opencv_jpeg.py RAW_FILE WIDTH HEIGHT QUALITY
Writes, for every frame in RAW_FILE, a uint32 big-endian length and the JPEG bytes to stdout.
"""
import struct
import sys

import cv2
import numpy as np


def main():
    path, width, height, quality = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    frame_bytes = width * height * 3
    data = open(path, 'rb').read()
    out = sys.stdout.buffer
    for offset in range(0, len(data) - frame_bytes + 1, frame_bytes):
        rgb = np.frombuffer(data, dtype=np.uint8, count=frame_bytes, offset=offset).reshape(height, width, 3)
        # OpenCV images are BGR; the seed hands imencode the BGR frame VideoCapture returned.
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            sys.exit('imencode failed')
        out.write(struct.pack('>L', len(jpeg)) + jpeg.tobytes())
    out.flush()


if __name__ == '__main__':
    main()

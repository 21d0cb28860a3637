{
  "targets": [
    {
      "target_name": "framecast_jpeg",
      "sources": ["yuv_jpeg.c"],
      "libraries": ["-ljpeg"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}

/*
 * framecast's JPEG encoder for planar YUV 4:2:0 (I420, full range), straight into libjpeg-turbo.
 *
 * ffmpeg already holds each frame as 4:2:0 after scaling. Handing libjpeg those planes as raw data
 * (raw_data_in) skips two colour conversions that the RGB route pays for: ffmpeg's YUV->RGB and
 * libjpeg's RGB->YCbCr plus chroma downsampling, and halves the bytes that cross the socket.
 * Quantisation is jpeg_set_quality(q, TRUE) with the slow, accurate integer DCT: OpenCV's
 * imencode settings, so quality numbers mean the same thing.
 *
 * One N-API function, encodeI420(planes, width, height, quality, optimise) -> Promise<Buffer>,
 * encoded on the libuv thread pool. The input Buffer must stay unmodified until the promise settles.
 */
#include <node_api.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

#define MAX_DIM 16384

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} error_mgr;

static void on_error(j_common_ptr cinfo) {
  error_mgr *err = (error_mgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

static void on_message(j_common_ptr cinfo) { (void)cinfo; /* warnings are not printed */ }

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input_ref;
  const unsigned char *planes;
  int width;
  int height;
  int quality;
  int optimise;
  unsigned char *out;
  unsigned long out_size;
  char error[JMSG_LENGTH_MAX];
} job_t;

/* Copies `rows` rows of one plane into a padded scratch block, repeating the last column and row. */
static void fill_rows(JSAMPROW *rows, unsigned char *scratch, size_t padded_w, int count,
                      const unsigned char *plane, int plane_w, int plane_h, int first) {
  for (int i = 0; i < count; i++) {
    int y = first + i < plane_h ? first + i : plane_h - 1;
    unsigned char *dst = scratch + (size_t)i * padded_w;
    memcpy(dst, plane + (size_t)y * plane_w, plane_w);
    if (padded_w > (size_t)plane_w) memset(dst + plane_w, dst[plane_w - 1], padded_w - plane_w);
    rows[i] = dst;
  }
}

static void encode(job_t *job) {
  struct jpeg_compress_struct cinfo;
  error_mgr err;
  const int w = job->width, h = job->height;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  /* libjpeg reads whole 8x8 blocks in each MCU row: pad widths to 16 (luma) and 8 (chroma). */
  const size_t yw = (size_t)((w + 15) & ~15), cpw = (size_t)((cw + 7) & ~7);
  unsigned char *scratch = malloc(16 * yw + 2 * 8 * cpw);
  JSAMPROW yrows[16], urows[8], vrows[8];
  JSAMPARRAY data[3] = {yrows, urows, vrows};
  const unsigned char *yp = job->planes;
  const unsigned char *up = yp + (size_t)w * h;
  const unsigned char *vp = up + (size_t)cw * ch;

  job->out = NULL;
  job->out_size = 0;
  if (scratch == NULL) {
    snprintf(job->error, sizeof job->error, "out of memory");
    return;
  }
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.output_message = on_message;
  if (setjmp(err.jump)) {
    snprintf(job->error, sizeof job->error, "%s", err.message);
    jpeg_destroy_compress(&cinfo);
    free(job->out);
    job->out = NULL;
    free(scratch);
    return;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &job->out, &job->out_size);
  cinfo.image_width = (JDIMENSION)w;
  cinfo.image_height = (JDIMENSION)h;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_YCbCr;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, job->quality, TRUE);
  /* jpeg_set_defaults gives YCbCr with 2x2 luma, 1x1 chroma sampling: 4:2:0, as OpenCV writes. */
  cinfo.raw_data_in = TRUE;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.optimize_coding = job->optimise ? TRUE : FALSE;
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    const int y0 = (int)cinfo.next_scanline;
    fill_rows(yrows, scratch, yw, 16, yp, w, h, y0);
    fill_rows(urows, scratch + 16 * yw, cpw, 8, up, cw, ch, y0 / 2);
    fill_rows(vrows, scratch + 16 * yw + 8 * cpw, cpw, 8, vp, cw, ch, y0 / 2);
    jpeg_write_raw_data(&cinfo, data, 16);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  free(scratch);
}

static void execute(napi_env env, void *data) {
  (void)env;
  encode((job_t *)data);
}

static void complete(napi_env env, napi_status status, void *data) {
  job_t *job = (job_t *)data;
  napi_value result;
  if (status == napi_ok && job->out != NULL) {
    void *copy;
    if (napi_create_buffer_copy(env, job->out_size, job->out, &copy, &result) == napi_ok) {
      napi_resolve_deferred(env, job->deferred, result);
    } else {
      napi_value msg;
      napi_create_string_utf8(env, "cannot allocate the JPEG buffer", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &result);
      napi_reject_deferred(env, job->deferred, result);
    }
  } else {
    napi_value msg;
    napi_create_string_utf8(env, job->error[0] ? job->error : "JPEG encode cancelled", NAPI_AUTO_LENGTH,
                            &msg);
    napi_create_error(env, NULL, msg, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  free(job->out);
  napi_delete_reference(env, job->input_ref);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, NULL, message);
  return NULL;
}

static int int_arg(napi_env env, napi_value v, int lo, int hi, int *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= lo && d <= hi) || d != (double)(int)d) return 0;
  *out = (int)d;
  return 1;
}

static napi_value encode_i420(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5], promise, name;
  bool is_buffer = false, optimise = false;
  void *planes;
  size_t length;
  int w, h, q;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5)
    return throw_type(env, "encodeI420(planes, width, height, quality, optimise)");
  napi_is_buffer(env, argv[0], &is_buffer);
  if (!is_buffer) return throw_type(env, "planes must be a Buffer");
  if (!int_arg(env, argv[1], 1, MAX_DIM, &w) || !int_arg(env, argv[2], 1, MAX_DIM, &h))
    return throw_type(env, "width and height must be integers in 1..16384");
  if (!int_arg(env, argv[3], 1, 100, &q)) return throw_type(env, "quality must be an integer in 1..100");
  if (napi_get_value_bool(env, argv[4], &optimise) != napi_ok) return throw_type(env, "optimise must be a boolean");
  napi_get_buffer_info(env, argv[0], &planes, &length);
  if (length < (size_t)w * h + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2))
    return throw_type(env, "planes is shorter than one I420 frame of that size");

  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) return throw_type(env, "out of memory");
  job->planes = planes;
  job->width = w;
  job->height = h;
  job->quality = q;
  job->optimise = optimise;
  napi_create_reference(env, argv[0], 1, &job->input_ref);
  napi_create_promise(env, &job->deferred, &promise);
  napi_create_string_utf8(env, "framecast:jpeg", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, execute, complete, job, &job->work);
  napi_queue_async_work(env, job->work);
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "encodeI420", NAPI_AUTO_LENGTH, encode_i420, NULL, &fn);
  napi_set_named_property(env, exports, "encodeI420", fn);
  return exports;
}

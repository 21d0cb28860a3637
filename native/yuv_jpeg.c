/*
 * framecast's JPEG encoder for planar YUV 4:2:0 (I420, full range), straight into libjpeg-turbo.
 *
 * ffmpeg already holds each frame as 4:2:0 after scaling. Handing libjpeg those planes as raw data
 * (raw_data_in) skips two colour conversions that the RGB route pays for: ffmpeg's YUV->RGB and
 * libjpeg's RGB->YCbCr plus chroma downsampling, and halves the bytes that cross the socket.
 * Quantisation is jpeg_set_quality(q, TRUE) with the slow, accurate integer DCT: OpenCV's
 * imencode settings, so quality numbers mean the same thing.
 *
 * Limited-range (TV) planes, what nearly every camera and file decodes to, are expanded to JPEG's full
 * range here, 16 bytes at a time while each row is copied for libjpeg anyway, instead of by swscale
 * (whose range conversion is plain C per pixel in FFmpeg 5: measured 0.2 ms per 640x360 -> 800x450
 * frame and 0.43 ms per 1080p -> 800x450 frame of ffmpeg's CPU).
 *
 * One N-API function, encodeI420(planes, width, height, quality, optimise[, limited[, outWidth,
 * outHeight]]) -> Promise<Buffer>, encoded on the libuv thread pool. With an output size smaller than
 * the frame's, the planes are first shrunk by area averaging (each output sample the mean of the input
 * area it covers, fractional edges weighted: OpenCV's INTER_AREA, FFmpeg's "area"), so a rendition of a
 * raw frame is made without a JPEG decode. The input Buffer must stay unmodified until the promise
 * settles.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include <pthread.h>
#endif
#include <node_api.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
  int limited;
  int out_width;
  int out_height;
  unsigned char *out;
  unsigned long out_size;
  char error[JMSG_LENGTH_MAX];
} job_t;

/* How a row reaches libjpeg: copied, or expanded from limited to full range as luma or chroma. */
enum row_kind { ROW_COPY, ROW_LUMA, ROW_CHROMA };

/*
 * Full range from limited range, as swscale's out_range=full computes it: luma (y - 16) * 255/219,
 * chroma (c - 128) * 255/224 + 128, rounded and clamped. Fixed point in 1/64 levels, where a 16-bit
 * lane holds every input (superwhite 255 included): t + t * frac / 65536 is t * 255/219 (or 255/224).
 * Equal to the rounded exact value for every luma input, and for every chroma input but 16 (0 instead
 * of the tie 0.5 -> 1).
 */
static void expand_range(unsigned char *dst, const unsigned char *src, int n, int chroma) {
  const int offset = chroma ? 128 : 16, frac = chroma ? 9070 : 10773, base = chroma ? 128 : 0;
  int i = 0;
#if defined(__SSE2__)
  const __m128i zero = _mm_setzero_si128(), off = _mm_set1_epi16((short)offset);
  const __m128i k = _mm_set1_epi16((short)frac), half = _mm_set1_epi16(32), add = _mm_set1_epi16((short)base);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128((const __m128i *)(src + i));
    __m128i lo = _mm_slli_epi16(_mm_sub_epi16(_mm_unpacklo_epi8(v, zero), off), 6);
    __m128i hi = _mm_slli_epi16(_mm_sub_epi16(_mm_unpackhi_epi8(v, zero), off), 6);
    lo = _mm_add_epi16(_mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(lo, _mm_mulhi_epi16(lo, k)), half), 6), add);
    hi = _mm_add_epi16(_mm_srai_epi16(_mm_add_epi16(_mm_add_epi16(hi, _mm_mulhi_epi16(hi, k)), half), 6), add);
    _mm_storeu_si128((__m128i *)(dst + i), _mm_packus_epi16(lo, hi));
  }
#endif
  for (; i < n; i++) {
    const int t = (src[i] - offset) * 64;
    const int r = ((t + ((t * frac) >> 16) + 32) >> 6) + base;
    dst[i] = (unsigned char)(r < 0 ? 0 : r > 255 ? 255 : r);
  }
}

/*
 * Points `rows` at `count` rows of one plane from row `first`, repeating the last row below the
 * picture. Rows that need padding to the block width (the last column repeated) or a range expansion
 * go through `scratch`; full-range rows as wide as the padded width are read in place.
 */
static void fill_rows(JSAMPROW *rows, unsigned char *scratch, size_t padded_w, int count,
                      const unsigned char *plane, int plane_w, int plane_h, int first, enum row_kind kind) {
  for (int i = 0; i < count; i++) {
    int y = first + i < plane_h ? first + i : plane_h - 1;
    const unsigned char *src = plane + (size_t)y * plane_w;
    if (kind == ROW_COPY && padded_w == (size_t)plane_w) {
      rows[i] = (JSAMPROW)src;
      continue;
    }
    unsigned char *dst = scratch + (size_t)i * padded_w;
    if (kind == ROW_COPY) memcpy(dst, src, plane_w);
    else expand_range(dst, src, plane_w, kind == ROW_CHROMA);
    if (padded_w > (size_t)plane_w) memset(dst + plane_w, dst[plane_w - 1], padded_w - plane_w);
    rows[i] = dst;
  }
}

/* Fixed-point weights of the area shrink: each output sample's weights sum to 1 << AREA_BITS. */
#define AREA_BITS 14

/*
 * The weights of shrinking `in` samples to `out` (out <= in): output i covers input [i*in/out,
 * (i+1)*in/out), and each input sample weighs the part of it inside, over in/out. `first[i]` is its
 * first input sample, `count[i]` how many, `weight` holds `stride` weights per output (those past an
 * output's count weigh 0). Returns the stride: the most samples any output covers (at most
 * ceil(in/out) + 1; 2 for 800 to 640, whose outputs all start on a quarter sample).
 */
static int area_weights(int in, int out, int *first, int *count, unsigned short *weight) {
  int stride = 1;
  for (int i = 0; i < out; i++) {
    /* Exact in units of 1/out of an input sample: [i*in, (i+1)*in). */
    const long long lo = (long long)i * in, hi = (long long)(i + 1) * in;
    first[i] = (int)(lo / out);
    count[i] = (int)((hi + out - 1) / out) - first[i];
    if (count[i] > stride) stride = count[i];
  }
  for (int i = 0; i < out; i++) {
    const long long lo = (long long)i * in, hi = (long long)(i + 1) * in;
    const int j0 = first[i], n = count[i];
    int sum = 0;
    for (int k = 0; k < n; k++) {
      const long long a = (long long)(j0 + k) * out, b = a + out;
      const long long part = (b < hi ? b : hi) - (a > lo ? a : lo);
      int w = (int)((part << AREA_BITS) / in);
      if (k == n - 1) w = (1 << AREA_BITS) - sum; /* exact total: a flat picture stays flat */
      weight[i * stride + k] = (unsigned short)w;
      sum += w;
    }
  }
  return stride;
}

/*
 * One output row across: each sample the weighted sum of `taps` neighbours in the row of shrunk
 * columns (1/256 steps), rounded to the nearest level; never over 255, as the weights sum to one.
 */
static inline void across(const unsigned short *row, const int *first, const unsigned short *weight,
                          int taps, unsigned char *dst, int out_w) {
  for (int i = 0; i < out_w; i++) {
    const unsigned short *p = row + first[i], *w = weight + (size_t)i * taps;
    unsigned int sum = 0;
    for (int k = 0; k < taps; k++) sum += (unsigned int)w[k] * p[k];
    dst[i] = (unsigned char)((sum + (1u << (AREA_BITS + 7))) >> (AREA_BITS + 8));
  }
}

/*
 * across() with the usual tap counts as constants, so the compiler unrolls them: a loop over a
 * variable count took twice as long (best of 30 runs: 0.34/0.57/0.93 ms against 0.17/0.29/0.35 ms for
 * 800x450 to 320/480/640, the last one also for its stride of 2 instead of 3), the same bytes.
 */
static void across_row(const unsigned short *row, const int *first, const unsigned short *weight,
                       int taps, unsigned char *dst, int out_w) {
  switch (taps) {
  case 1: across(row, first, weight, 1, dst, out_w); break;
  case 2: across(row, first, weight, 2, dst, out_w); break;
  case 3: across(row, first, weight, 3, dst, out_w); break;
  case 4: across(row, first, weight, 4, dst, out_w); break;
  default: across(row, first, weight, taps, dst, out_w);
  }
}

/*
 * Shrinks one plane (in_w x in_h, rows packed) to out_w x out_h by area averaging: columns first, a
 * whole input row at a time (contiguous, so the compiler vectorises it) into 1/256 steps held in 16
 * bits, then rows, with a fixed number of weights per output sample (the padding weighs 0), rounded to
 * the nearest level. Returns 0 out of memory.
 */
static int area_shrink(const unsigned char *src, int in_w, int in_h, unsigned char *dst, int out_w, int out_h) {
  int ok = 0;
  const int xs_max = (in_w + out_w - 1) / out_w + 1, ys_max = (in_h + out_h - 1) / out_h + 1;
  int *xf = malloc(sizeof(int) * 2 * (size_t)out_w), *yf = malloc(sizeof(int) * 2 * (size_t)out_h);
  unsigned short *xw = calloc((size_t)out_w * xs_max, sizeof(unsigned short));
  unsigned short *yw = calloc((size_t)out_h * ys_max, sizeof(unsigned short));
  unsigned int *acc = malloc(sizeof(unsigned int) * (size_t)in_w);
  /* One shrunk column's row, padded so that every output sample reads xs_max of them. */
  unsigned short *row = calloc((size_t)in_w + xs_max, sizeof(unsigned short));
  if (xf && yf && xw && yw && acc && row) {
    const int xs = area_weights(in_w, out_w, xf, xf + out_w, xw);
    const int ys = area_weights(in_h, out_h, yf, yf + out_h, yw);
    for (int o = 0; o < out_h; o++) {
      const unsigned short *w = yw + (size_t)o * ys;
      const unsigned char *s = src + (size_t)yf[o] * in_w;
      for (int x = 0; x < in_w; x++) acc[x] = (unsigned int)w[0] * s[x];
      for (int k = 1, n = yf[out_h + o]; k < n; k++) {
        const unsigned int wk = w[k];
        s += in_w;
        for (int x = 0; x < in_w; x++) acc[x] += wk * s[x];
      }
      for (int x = 0; x < in_w; x++)
        row[x] = (unsigned short)((acc[x] + (1u << (AREA_BITS - 9))) >> (AREA_BITS - 8));
      across_row(row, xf, xw, xs, dst + (size_t)o * out_w, out_w);
    }
    ok = 1;
  }
  free(xf);
  free(yf);
  free(xw);
  free(yw);
  free(acc);
  free(row);
  return ok;
}

/*
 * The frame's I420 planes shrunk to out_w x out_h (chroma to the halves, rounded up), in one new
 * buffer the caller frees; NULL out of memory.
 */
static unsigned char *shrink_i420(const unsigned char *planes, int w, int h, int out_w, int out_h) {
  const int cw = (w + 1) / 2, ch = (h + 1) / 2, ocw = (out_w + 1) / 2, och = (out_h + 1) / 2;
  const size_t oy = (size_t)out_w * out_h, oc = (size_t)ocw * och;
  unsigned char *out = malloc(oy + 2 * oc);
  if (out == NULL) return NULL;
  const unsigned char *u = planes + (size_t)w * h, *v = u + (size_t)cw * ch;
  if (!area_shrink(planes, w, h, out, out_w, out_h) || !area_shrink(u, cw, ch, out + oy, ocw, och) ||
      !area_shrink(v, cw, ch, out + oy + oc, ocw, och)) {
    free(out);
    return NULL;
  }
  return out;
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
  const enum row_kind luma = job->limited ? ROW_LUMA : ROW_COPY;
  const enum row_kind chroma = job->limited ? ROW_CHROMA : ROW_COPY;

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
    fill_rows(yrows, scratch, yw, 16, yp, w, h, y0, luma);
    fill_rows(urows, scratch + 16 * yw, cpw, 8, up, cw, ch, y0 / 2, chroma);
    fill_rows(vrows, scratch + 16 * yw + 8 * cpw, cpw, 8, vp, cw, ch, y0 / 2, chroma);
    jpeg_write_raw_data(&cinfo, data, 16);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  free(scratch);
}

/*
 * Names the libuv pool thread that runs an encode "libuv-worker", as libuv >= 1.48 (Node >= 22) does
 * itself: on Node 20 every thread is "node", and the encodes' CPU could not be told from V8's
 * (top -H, /proc/PID/task/TID/comm; the CPU bench reads it). Once per thread.
 */
static void name_pool_thread(void) {
#ifdef __linux__
  static __thread int named;
  if (!named) {
    named = 1;
    pthread_setname_np(pthread_self(), "libuv-worker");
  }
#endif
}

static void execute(napi_env env, void *data) {
  job_t *job = (job_t *)data;
  (void)env;
  name_pool_thread();
  if (job->out_width == job->width && job->out_height == job->height) {
    encode(job);
    return;
  }
  unsigned char *small = shrink_i420(job->planes, job->width, job->height, job->out_width, job->out_height);
  if (small == NULL) {
    snprintf(job->error, sizeof job->error, "out of memory");
    return;
  }
  job->planes = small;
  job->width = job->out_width;
  job->height = job->out_height;
  encode(job);
  free(small);
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
  size_t argc = 8;
  napi_value argv[8], promise, name;
  bool is_buffer = false, optimise = false, limited = false;
  void *planes;
  size_t length;
  int w, h, q, ow, oh;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5)
    return throw_type(env, "encodeI420(planes, width, height, quality, optimise[, limited[, outWidth, outHeight]])");
  napi_is_buffer(env, argv[0], &is_buffer);
  if (!is_buffer) return throw_type(env, "planes must be a Buffer");
  if (!int_arg(env, argv[1], 1, MAX_DIM, &w) || !int_arg(env, argv[2], 1, MAX_DIM, &h))
    return throw_type(env, "width and height must be integers in 1..16384");
  if (!int_arg(env, argv[3], 1, 100, &q)) return throw_type(env, "quality must be an integer in 1..100");
  if (napi_get_value_bool(env, argv[4], &optimise) != napi_ok) return throw_type(env, "optimise must be a boolean");
  if (argc > 5 && napi_get_value_bool(env, argv[5], &limited) != napi_ok)
    return throw_type(env, "limited must be a boolean");
  ow = w;
  oh = h;
  if (argc > 6 && (argc < 8 || !int_arg(env, argv[6], 1, w, &ow) || !int_arg(env, argv[7], 1, h, &oh)))
    return throw_type(env, "outWidth and outHeight must be integers in 1..width and 1..height");
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
  job->limited = limited;
  job->out_width = ow;
  job->out_height = oh;
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
  /*
   * What this build can do: 2 = expands limited-range input (the JS side refuses older builds),
   * 3 = shrinks to an output size (renditions of raw frames; without it they are made from JPEG).
   */
  napi_value abi;
  napi_create_uint32(env, 3, &abi);
  napi_set_named_property(env, exports, "abi", abi);
  return exports;
}

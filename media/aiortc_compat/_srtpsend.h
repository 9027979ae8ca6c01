/* What the _srtpsend module's files share: its Target (media/aiortc_compat/_srtpsend.c), the
 * routes that send through one (_route.c) and the copies that send through those (_fanout.c). */
#ifndef ANTECHAMBER_SRTPSEND_H
#define ANTECHAMBER_SRTPSEND_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sys/socket.h>

#define BUFFER_SIZE 1500
#define TRAILER_MAX (16 + 128) /* SRTP_MAX_TAG_LEN + SRTP_MAX_MKI_LEN, as pylibsrtp reserves */

typedef int (*protect_fn)(void *ctx, void *rtp, int *len);

/* One subscriber's socket, address and SRTP context. */
typedef struct {
    PyObject_HEAD
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    void *srtp;
    protect_fn protect;
    PyObject *owners; /* what keeps the socket and the SRTP context alive */
    unsigned long long sent;
    unsigned long long failed; /* SRTP refused, or the kernel did (EAGAIN, ENOBUFS...) */
    int last_errno;
} Target;

extern PyTypeObject TargetType;

/* Protect `len` bytes of RTP in `buffer` (room for the trailer after them) and send them:
 * 1 sent, 0 refused by SRTP or the kernel (counted in the Target). */
int target_emit(Target *self, unsigned char *buffer, int len);

/* A header field: an int from 0 to `max` into `out`, or -1 with OverflowError. */
int as_field(PyObject *o, unsigned long max, uint32_t *out);

/* Build an RTP packet into `buffer` (BUFFER_SIZE) from send()'s six arguments (marker_pt, seq,
 * timestamp, ssrc, extensions, payload): its length, or -1 with a Python error. */
int rtp_build(unsigned char *buffer, PyObject *const *args, Py_ssize_t nargs);

/* _route.c: a subscriber's DTLS transport. route_emit protects and sends `len` bytes of RTP in
 * `buffer`: 1 sent, 0 refused (SRTP, the kernel), -1 no transport, -2 a Python error is set;
 * sent_result turns that into True / False / None (or NULL). */
typedef struct Route Route;
extern PyTypeObject RouteType;
int route_emit(Route *r, unsigned char *buffer, int len);
PyObject *sent_result(int sent);
int route_init(void);

/* _fanout.c: Copy and fan(); fanout_init() readies its types and _route.c's. */
extern PyTypeObject CopyType;
extern PyMethodDef fan_method;
int fanout_init(void);

/* _remb.c: aiortc's RemoteBitrateEstimator in C. */
extern PyTypeObject EstimatorType;
#endif

/* The _srtpsend module's Target (media/aiortc_compat/_srtpsend.c): what a second C file of the
 * module needs to send through one. */
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
#endif

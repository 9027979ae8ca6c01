/* One forwarded RTP packet, built, SRTP-protected and sent in one call (docs/architecture.md
 * "Paths: ... an RTP packet").
 *
 * The Python path built the header (struct.pack), joined header + extensions + payload (a copy),
 * copied that into pylibsrtp's cffi buffer, copied the protected packet out again (a copy), and
 * went through uvloop's UDPTransport.sendto (address conversion per call). Here one call writes
 * the header, extension block and payload into a stack buffer, protects it in place with libsrtp
 * and sendto()s it on the ICE socket's file descriptor.
 *
 * libsrtp is not linked: `Target` gets the address of `srtp_protect` from pylibsrtp's own cffi
 * module (the same library and the same srtp_t context the Python path would use, so the SRTP
 * index stays one sequence) and keeps a reference to the objects that own the context and the
 * socket, so neither is freed while a Target can use them. media/aiortc_compat/send.py decides
 * when a Target is valid (DTLS connected, the nominated pair unchanged) and falls back to the
 * Python path when this module was not built.
 *
 * `Unprotect` is the receive side's counterpart: pylibsrtp's `Session.unprotect` checked the type
 * and length, allocated an int with cffi, copied the datagram into its buffer and sliced a copy
 * out. Here the datagram is copied once into the bytes object that is returned, unprotected in
 * place (libsrtp only shortens it) and the object shrunk to the plain length; a datagram libsrtp
 * refuses (not authentic, a replay, malformed) gives None, whatever its length.
 */
#include "_srtpsend.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static void Target_dealloc(Target *self) {
    Py_CLEAR(self->owners);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int parse_address(const char *host, int port, struct sockaddr_storage *out, socklen_t *len) {
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return 0;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* Target(fd, host, port, srtp_context_address, srtp_protect_address, owners) */
static int Target_init(Target *self, PyObject *args, PyObject *kwds) {
    int fd, port;
    const char *host;
    unsigned long long srtp, protect;
    PyObject *owners;
    if (!PyArg_ParseTuple(args, "isiKKO", &fd, &host, &port, &srtp, &protect, &owners))
        return -1;
    if (fd < 0 || port <= 0 || port > 65535 || !srtp || !protect) {
        PyErr_SetString(PyExc_ValueError, "bad socket, port or SRTP context");
        return -1;
    }
    if (parse_address(host, port, &self->addr, &self->addrlen) != 0) {
        PyErr_Format(PyExc_ValueError, "not a numeric IP address: %s", host);
        return -1;
    }
    self->fd = fd;
    self->srtp = (void *)(uintptr_t)srtp;
    self->protect = (protect_fn)(uintptr_t)protect;
    Py_INCREF(owners);
    Py_XSETREF(self->owners, owners);
    return 0;
}

/* A header field: an int from 0 to `max`, or OverflowError (as struct.pack would raise). */
int as_field(PyObject *o, unsigned long max, uint32_t *out) {
    unsigned long v = PyLong_AsUnsignedLong(o);
    if (v == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (v > max) {
        PyErr_Format(PyExc_OverflowError, "header field %lu is above %lu", v, max);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int rtp_build(unsigned char *buffer, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "send(marker_pt, seq, timestamp, ssrc, extensions, payload)");
        return -1;
    }
    uint32_t marker_pt, seq, ts, ssrc;
    if (as_field(args[0], 0xFF, &marker_pt) || as_field(args[1], 0xFFFF, &seq) ||
        as_field(args[2], 0xFFFFFFFFUL, &ts) || as_field(args[3], 0xFFFFFFFFUL, &ssrc))
        return -1;
    char *ext, *payload;
    Py_ssize_t ext_len, payload_len;
    if (PyBytes_AsStringAndSize(args[4], &ext, &ext_len) < 0 ||
        PyBytes_AsStringAndSize(args[5], &payload, &payload_len) < 0)
        return -1;
    Py_ssize_t total = 12 + ext_len + payload_len;
    if (total > BUFFER_SIZE - TRAILER_MAX) {
        PyErr_SetString(PyExc_ValueError, "packet is too long");
        return -1;
    }
    buffer[0] = ext_len ? 0x90 : 0x80;
    buffer[1] = (unsigned char)marker_pt;
    buffer[2] = (unsigned char)(seq >> 8);
    buffer[3] = (unsigned char)seq;
    uint32_t ts_n = htonl(ts), ssrc_n = htonl(ssrc);
    memcpy(buffer + 4, &ts_n, 4);
    memcpy(buffer + 8, &ssrc_n, 4);
    memcpy(buffer + 12, ext, (size_t)ext_len);
    memcpy(buffer + 12 + ext_len, payload, (size_t)payload_len);
    return (int)total;
}

/* send(marker_pt, seq, timestamp, ssrc, extensions, payload) -> bool
 * marker_pt: the second header byte (marker bit and payload type). True when the kernel took the
 * packet; False when SRTP or the kernel refused it (counted in `failed`, errno in `last_errno`). */
static PyObject *Target_send(Target *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char buffer[BUFFER_SIZE];
    int len = rtp_build(buffer, args, nargs);
    if (len < 0)
        return NULL;
    if (target_emit(self, buffer, len))
        Py_RETURN_TRUE;
    Py_RETURN_FALSE;
}

int target_emit(Target *self, unsigned char *buffer, int len) {
    if (self->protect(self->srtp, buffer, &len) != 0) {
        self->failed++;
        self->last_errno = 0;
        return 0;
    }
    ssize_t n;
    do {
        n = sendto(self->fd, buffer, (size_t)len, 0, (struct sockaddr *)&self->addr, self->addrlen);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        self->failed++;
        self->last_errno = errno;
        return 0;
    }
    self->sent++;
    return 1;
}

static PyObject *Target_counts(Target *self, PyObject *unused) {
    return Py_BuildValue("{s:K,s:K,s:i}", "sent", self->sent, "failed", self->failed, "last_errno", self->last_errno);
}

static PyMethodDef Target_methods[] = {
    {"send", (PyCFunction)(void (*)(void))Target_send, METH_FASTCALL,
     "send(marker_pt, seq, timestamp, ssrc, extensions, payload) -> bool: build, protect, send"},
    {"counts", (PyCFunction)Target_counts, METH_NOARGS, "{sent, failed, last_errno}"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject TargetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media.aiortc_compat._srtpsend.Target",
    .tp_doc = "One subscriber's socket, address and SRTP context: build, protect and send RTP in one call.",
    .tp_basicsize = sizeof(Target),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Target_init,
    .tp_dealloc = (destructor)Target_dealloc,
    .tp_methods = Target_methods,
};

/* Unprotect(srtp_context_address, srtp_unprotect_address, owner): srtp_unprotect or
 * srtp_unprotect_rtcp of libsrtp 2 (same signature as srtp_protect) on one context. */
typedef struct {
    PyObject_HEAD
    void *srtp;
    protect_fn unprotect;
    PyObject *owner; /* what keeps the SRTP context alive */
    unsigned long long refused;
} Unprotect;

static void Unprotect_dealloc(Unprotect *self) {
    Py_CLEAR(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Unprotect_init(Unprotect *self, PyObject *args, PyObject *kwds) {
    unsigned long long srtp, fn;
    PyObject *owner;
    if (!PyArg_ParseTuple(args, "KKO", &srtp, &fn, &owner))
        return -1;
    if (!srtp || !fn) {
        PyErr_SetString(PyExc_ValueError, "bad SRTP context or function");
        return -1;
    }
    self->srtp = (void *)(uintptr_t)srtp;
    self->unprotect = (protect_fn)(uintptr_t)fn;
    Py_INCREF(owner);
    Py_XSETREF(self->owner, owner);
    return 0;
}

/* unprotect(datagram: bytes) -> bytes | None */
static PyObject *Unprotect_call(Unprotect *self, PyObject *data) {
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "datagram must be bytes");
        return NULL;
    }
    Py_ssize_t size = PyBytes_GET_SIZE(data);
    if (size > 0x7FFFFFFF) {
        self->refused++;
        Py_RETURN_NONE;
    }
    PyObject *out = PyBytes_FromStringAndSize(PyBytes_AS_STRING(data), size);
    if (out == NULL)
        return NULL;
    int len = (int)size;
    if (self->unprotect(self->srtp, PyBytes_AS_STRING(out), &len) != 0 || len < 0 || len > size) {
        Py_DECREF(out);
        self->refused++;
        Py_RETURN_NONE;
    }
    if (len < size && _PyBytes_Resize(&out, len) < 0)
        return NULL;
    return out;
}

static PyObject *Unprotect_counts(Unprotect *self, PyObject *unused) {
    return Py_BuildValue("{s:K}", "refused", self->refused);
}

static PyMethodDef Unprotect_methods[] = {
    {"unprotect", (PyCFunction)Unprotect_call, METH_O,
     "unprotect(datagram) -> bytes, or None when libsrtp refuses it"},
    {"counts", (PyCFunction)Unprotect_counts, METH_NOARGS, "{refused}"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject UnprotectType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media.aiortc_compat._srtpsend.Unprotect",
    .tp_doc = "One SRTP context's srtp_unprotect (or _rtcp): one copy, no cffi.",
    .tp_basicsize = sizeof(Unprotect),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Unprotect_init,
    .tp_dealloc = (destructor)Unprotect_dealloc,
    .tp_methods = Unprotect_methods,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_srtpsend",
    "Build, SRTP-protect and send one forwarded RTP packet per call; SRTP-unprotect a datagram (media/aiortc_compat/send.py).", -1, NULL,
};

static PyMethodDef functions[2];

PyMODINIT_FUNC PyInit__srtpsend(void) {
    if (PyType_Ready(&TargetType) < 0 || PyType_Ready(&UnprotectType) < 0 || fanout_init() < 0
        || PyType_Ready(&EstimatorType) < 0)
        return NULL;
    functions[0] = fan_method;
    module.m_methods = functions;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&TargetType);
    if (PyModule_AddObject(m, "Target", (PyObject *)&TargetType) < 0) {
        Py_DECREF(&TargetType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&UnprotectType);
    if (PyModule_AddObject(m, "Unprotect", (PyObject *)&UnprotectType) < 0) {
        Py_DECREF(&UnprotectType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Route", (PyObject *)&RouteType) < 0 ||
        PyModule_AddObjectRef(m, "Copy", (PyObject *)&CopyType) < 0 ||
        PyModule_AddObjectRef(m, "Estimator", (PyObject *)&EstimatorType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

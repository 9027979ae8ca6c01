/* A publication's copies forwarded in one call per slice (docs/architecture.md "Paths: ... an RTP
 * packet"): what media/forward/copy.py's Python `Copy` and `fan` do, without a Python call per
 * copy. That file says what each field means; tests/unit/test_media_copy.py checks that both put
 * the same bytes on the wire. A copy sends through its subscriber's `Route` (_route.c).
 */
#include "_srtpsend.h"
#include <structmember.h>
#include <arpa/inet.h>
#include <string.h>

#define MID_MAX 17 /* an RFC 8285 one-byte element: 1 header byte, up to 16 of value */

typedef struct {
    PyObject_HEAD
    PyObject *route;         /* a Route, or None: nothing to send on (counted unsent) */
    PyObject *keyframe_test; /* callable(payload) -> bool, asked while waiting for a keyframe */
    PyObject *report;        /* (sender.__dict__, 4 keys) the RTCP sender report reads, or None */
    unsigned char mid[MID_MAX];
    int mid_len, abs_id, level_id, pt;
    char ready, waiting_keyframe, audio, rebase_ts;
    unsigned int ssrc, ts_offset;
    int seq_offset, segment_start, last_out_seq, initial_seq;
    long long last_ts;
    unsigned long long forwarded, octets, dropped, unsent, refused;
} Copy;

static int Copy_traverse(Copy *self, visitproc visit, void *arg) {
    Py_VISIT(self->route);
    Py_VISIT(self->keyframe_test);
    Py_VISIT(self->report);
    return 0;
}

static int Copy_clear(Copy *self) {
    Py_CLEAR(self->route);
    Py_CLEAR(self->keyframe_test);
    Py_CLEAR(self->report);
    return 0;
}

static void Copy_dealloc(Copy *self) {
    PyObject_GC_UnTrack(self);
    Copy_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Copy(audio, ssrc, initial_seq, ts_offset, keyframe_test, report) */
static int Copy_init(Copy *self, PyObject *args, PyObject *kwds) {
    int audio, initial_seq;
    unsigned int ssrc, ts_offset;
    PyObject *keyframe_test, *report;
    if (!PyArg_ParseTuple(args, "pIiIOO", &audio, &ssrc, &initial_seq, &ts_offset, &keyframe_test, &report))
        return -1;
    if (initial_seq < 0 || initial_seq > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "initial_seq is not a 16-bit sequence number");
        return -1;
    }
    if (report != Py_None && !(PyTuple_Check(report) && PyTuple_GET_SIZE(report) == 5 &&
                               PyDict_Check(PyTuple_GET_ITEM(report, 0)))) {
        PyErr_SetString(PyExc_TypeError, "report must be (dict, packets, octets, rtp_ts, ntp_ts keys) or None");
        return -1;
    }
    self->audio = (char)(audio != 0);
    self->waiting_keyframe = (char)(audio == 0);
    self->ssrc = ssrc;
    self->initial_seq = initial_seq;
    self->ts_offset = ts_offset;
    self->seq_offset = self->last_out_seq = -1;
    self->last_ts = -1;
    Py_XSETREF(self->route, Py_NewRef(Py_None));
    Py_XSETREF(self->keyframe_test, Py_NewRef(keyframe_test));
    Py_XSETREF(self->report, Py_NewRef(report));
    return 0;
}

/* Build one packet of ours (header, extension block, payload) and send it: as route_emit; a packet
 * too long for the buffer is refused (0), as a full socket would. */
static int copy_emit(Copy *c, int marker, unsigned int seq, unsigned int ts, const char *payload,
                     Py_ssize_t payload_len, unsigned int abs24, int level) {
    unsigned char buffer[BUFFER_SIZE];
    unsigned char *body = buffer + 16;
    int n = c->mid_len;
    memcpy(body, c->mid, (size_t)n);
    if (c->abs_id) {
        body[n++] = (unsigned char)((c->abs_id << 4) | 2);
        body[n++] = (unsigned char)(abs24 >> 16);
        body[n++] = (unsigned char)(abs24 >> 8);
        body[n++] = (unsigned char)abs24;
    }
    if (c->level_id && level >= 0) {
        body[n++] = (unsigned char)(c->level_id << 4);
        body[n++] = (unsigned char)level;
    }
    int header = 12;
    if (n) {
        int pad = -n & 3;
        memset(body + n, 0, (size_t)pad);
        int words = (n + pad) >> 2;
        buffer[12] = 0xBE;
        buffer[13] = 0xDE;
        buffer[14] = (unsigned char)(words >> 8);
        buffer[15] = (unsigned char)words;
        header = 16 + n + pad;
    }
    if (header + payload_len > BUFFER_SIZE - TRAILER_MAX)
        return 0;
    buffer[0] = n ? 0x90 : 0x80;
    buffer[1] = (unsigned char)((marker ? 0x80 : 0) | (c->pt & 0x7F));
    buffer[2] = (unsigned char)(seq >> 8);
    buffer[3] = (unsigned char)seq;
    uint32_t ts_n = htonl(ts), ssrc_n = htonl(c->ssrc);
    memcpy(buffer + 4, &ts_n, 4);
    memcpy(buffer + 8, &ssrc_n, 4);
    memcpy(buffer + header, payload, (size_t)payload_len);
    if (c->route == NULL || !PyObject_TypeCheck(c->route, &RouteType))
        return -1; /* no route (or a Copy never initialised): unsent */
    PyObject *route = c->route; /* Python code the route may run (retarget, slow) may replace it */
    Py_INCREF(route);
    int sent = route_emit((Route *)route, buffer, header + (int)payload_len);
    Py_DECREF(route);
    return sent;
}

static int set_long(PyObject *dict, PyObject *key, unsigned long long value) {
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (v == NULL)
        return -1;
    int r = PyDict_SetItem(dict, key, v);
    Py_DECREF(v);
    return r;
}

/* Copy.forward in C; 0, or -1 with a Python error set. */
static int copy_forward(Copy *c, PyObject *payload_obj, unsigned int seq, unsigned int ts, int marker,
                        unsigned int abs24, int level, double now) {
    if (!c->ready)
        return 0;
    if (c->waiting_keyframe) {
        if (c->keyframe_test == NULL) {
            PyErr_SetString(PyExc_TypeError, "Copy was not initialised");
            return -1;
        }
        PyObject *r = PyObject_CallOneArg(c->keyframe_test, payload_obj);
        if (r == NULL)
            return -1;
        int keyframe = PyObject_IsTrue(r);
        Py_DECREF(r);
        if (keyframe < 0)
            return -1;
        if (!keyframe) {
            c->dropped++;
            return 0;
        }
        c->waiting_keyframe = 0;
        c->seq_offset = -1;
    }
    if (c->seq_offset < 0) {
        int next = c->last_out_seq < 0 ? c->initial_seq : (c->last_out_seq + 1) & 0xFFFF;
        c->seq_offset = (int)((next - (int)seq) & 0xFFFF);
        c->segment_start = next;
        if (c->rebase_ts && c->last_ts >= 0)
            c->ts_offset = (unsigned int)((c->last_ts + (c->audio ? 960 : 3000) - (long long)ts) & 0xFFFFFFFFLL);
        c->rebase_ts = 0;
    }
    unsigned int out_seq = (seq + (unsigned int)c->seq_offset) & 0xFFFF;
    unsigned int out_ts = ts + c->ts_offset; /* 32-bit wrap */
    c->last_ts = out_ts;
    if (c->last_out_seq < 0 || ((out_seq - (unsigned int)c->last_out_seq) & 0xFFFF) < 0x8000)
        c->last_out_seq = (int)out_seq;
    Py_ssize_t len = PyBytes_GET_SIZE(payload_obj);
    int sent = copy_emit(c, marker, out_seq, out_ts, PyBytes_AS_STRING(payload_obj), len, abs24, level);
    if (sent == -2)
        return -1;
    if (sent < 0) {
        c->unsent++;
        return 0;
    }
    if (sent == 0) {
        c->refused++;
        return 0;
    }
    c->forwarded++;
    c->octets += (unsigned long long)len;
    if ((marker || c->audio) && c->report != Py_None) { /* what the sender's RTCP SR reports */
        PyObject *d = PyTuple_GET_ITEM(c->report, 0);
        unsigned long long ntp = (unsigned long long)((now + 2208988800.0) * 4294967296.0);
        if (set_long(d, PyTuple_GET_ITEM(c->report, 1), c->forwarded) < 0 ||
            set_long(d, PyTuple_GET_ITEM(c->report, 2), c->octets) < 0 ||
            set_long(d, PyTuple_GET_ITEM(c->report, 3), out_ts) < 0 ||
            set_long(d, PyTuple_GET_ITEM(c->report, 4), ntp) < 0)
            return -1;
    }
    return 0;
}

/* The packet arguments shared by forward, emit and fan. */
typedef struct {
    PyObject *payload;
    unsigned int seq, ts, abs24;
    int marker, level;
    double now;
} Packet;

static int packet_args(PyObject *const *a, Packet *p, int with_now) {
    uint32_t seq, ts, marker, abs24;
    if (!PyBytes_Check(a[0])) {
        PyErr_SetString(PyExc_TypeError, "payload must be bytes");
        return -1;
    }
    if (as_field(a[1], 0xFFFF, &seq) || as_field(a[2], 0xFFFFFFFFUL, &ts) || as_field(a[3], 1, &marker) ||
        as_field(a[4], 0xFFFFFF, &abs24))
        return -1;
    long level = PyLong_AsLong(a[5]);
    if (level == -1 && PyErr_Occurred())
        return -1;
    if (level < -1 || level > 0xFF) {
        PyErr_SetString(PyExc_OverflowError, "level must be -1 or a byte");
        return -1;
    }
    p->payload = a[0];
    p->seq = seq, p->ts = ts, p->marker = (int)marker, p->abs24 = abs24, p->level = (int)level;
    p->now = 0;
    if (with_now) {
        p->now = PyFloat_AsDouble(a[6]);
        if (p->now == -1.0 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

/* forward(payload, seq, ts, marker, abs24, level, now) */
static PyObject *Copy_forward(Copy *self, PyObject *const *args, Py_ssize_t nargs) {
    Packet p;
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "forward(payload, seq, ts, marker, abs24, level, now)");
        return NULL;
    }
    if (packet_args(args, &p, 1) < 0 || copy_forward(self, p.payload, p.seq, p.ts, p.marker, p.abs24, p.level, p.now) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* emit(marker, seq, ts, payload, abs24, level) -> True | None | False, with our own seq and ts */
static PyObject *Copy_emit(Copy *self, PyObject *const *args, Py_ssize_t nargs) {
    Packet p;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "emit(marker, seq, ts, payload, abs24, level)");
        return NULL;
    }
    PyObject *reordered[6] = {args[3], args[1], args[2], args[0], args[4], args[5]};
    if (packet_args(reordered, &p, 0) < 0)
        return NULL;
    return sent_result(copy_emit(self, p.marker, p.seq, p.ts, PyBytes_AS_STRING(p.payload),
                                 PyBytes_GET_SIZE(p.payload), p.abs24, p.level));
}

static PyMethodDef Copy_methods[] = {
    {"forward", (PyCFunction)(void (*)(void))Copy_forward, METH_FASTCALL,
     "forward(payload, seq, ts, marker, abs24, level, now): one publisher packet"},
    {"emit", (PyCFunction)(void (*)(void))Copy_emit, METH_FASTCALL,
     "emit(marker, seq, ts, payload, abs24, level) -> True, None or False: one packet of ours"},
    {NULL, NULL, 0, NULL},
};

static PyObject *Copy_get_mid(Copy *self, void *closure) {
    return PyBytes_FromStringAndSize((const char *)self->mid, self->mid_len);
}

static int Copy_set_mid(Copy *self, PyObject *value, void *closure) {
    char *data;
    Py_ssize_t len;
    if (value == NULL || PyBytes_AsStringAndSize(value, &data, &len) < 0) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "mid_element must be bytes");
        return -1;
    }
    if (len > MID_MAX) {
        PyErr_SetString(PyExc_ValueError, "a MID element is at most 17 bytes");
        return -1;
    }
    memcpy(self->mid, data, (size_t)len);
    self->mid_len = (int)len;
    return 0;
}

static PyObject *Copy_get_route(Copy *self, void *closure) {
    return Py_NewRef(self->route != NULL ? self->route : Py_None);
}

static int Copy_set_route(Copy *self, PyObject *value, void *closure) {
    if (value == NULL || (value != Py_None && !PyObject_TypeCheck(value, &RouteType))) {
        PyErr_SetString(PyExc_TypeError, "route must be a Route or None");
        return -1;
    }
    Py_XSETREF(self->route, Py_NewRef(value));
    return 0;
}

static PyGetSetDef Copy_getset[] = {
    {"mid_element", (getter)Copy_get_mid, (setter)Copy_set_mid, "the MID extension element (bytes)", NULL},
    {"route", (getter)Copy_get_route, (setter)Copy_set_route, "the Route sent on, or None", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

#define M(name, type, flags) {#name, type, offsetof(Copy, name), flags, NULL}
static PyMemberDef Copy_members[] = {
    M(keyframe_test, T_OBJECT, READONLY), M(abs_id, T_INT, 0), M(level_id, T_INT, 0), M(pt, T_INT, 0),
    M(ssrc, T_UINT, 0), M(ready, T_BOOL, 0), M(waiting_keyframe, T_BOOL, 0), M(audio, T_BOOL, READONLY),
    M(rebase_ts, T_BOOL, 0), M(seq_offset, T_INT, 0), M(segment_start, T_INT, READONLY),
    M(last_out_seq, T_INT, READONLY), M(initial_seq, T_INT, READONLY), M(ts_offset, T_UINT, READONLY),
    M(last_ts, T_LONGLONG, READONLY), M(forwarded, T_ULONGLONG, READONLY), M(octets, T_ULONGLONG, READONLY),
    M(dropped, T_ULONGLONG, READONLY), M(unsent, T_ULONGLONG, READONLY), M(refused, T_ULONGLONG, READONLY),
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject CopyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media.aiortc_compat._srtpsend.Copy",
    .tp_doc = "One subscriber's copy of one publication (media/forward/copy.py's Copy, in C).",
    .tp_basicsize = sizeof(Copy),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Copy_init,
    .tp_traverse = (traverseproc)Copy_traverse,
    .tp_clear = (inquiry)Copy_clear,
    .tp_dealloc = (destructor)Copy_dealloc,
    .tp_methods = Copy_methods,
    .tp_members = Copy_members,
    .tp_getset = Copy_getset,
};

/* fan(copies, start, end, payload, seq, ts, marker, abs24, level, now): copies[start:end] forward
 * one publisher packet; a Python error (a keyframe test or a Python send that raised) stops it. */
static PyObject *fan(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Packet p;
    if (nargs != 10 || !PyTuple_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "fan(copies: tuple, start, end, payload, seq, ts, marker, abs24, level, now)");
        return NULL;
    }
    Py_ssize_t start = PyLong_AsSsize_t(args[1]), end = PyLong_AsSsize_t(args[2]);
    if ((start == -1 || end == -1) && PyErr_Occurred())
        return NULL;
    if (packet_args(args + 3, &p, 1) < 0)
        return NULL;
    PyObject *copies = args[0];
    if (start < 0)
        start = 0;
    if (end > PyTuple_GET_SIZE(copies))
        end = PyTuple_GET_SIZE(copies);
    Py_INCREF(copies);
    Py_INCREF(p.payload);
    int failed = 0;
    for (Py_ssize_t i = start; i < end && !failed; i++) {
        PyObject *c = PyTuple_GET_ITEM(copies, i);
        if (!PyObject_TypeCheck(c, &CopyType)) {
            PyErr_SetString(PyExc_TypeError, "fan takes a tuple of Copy");
            failed = 1;
        } else {
            Py_INCREF(c);
            failed = copy_forward((Copy *)c, p.payload, p.seq, p.ts, p.marker, p.abs24, p.level, p.now) < 0;
            Py_DECREF(c);
        }
    }
    Py_DECREF(p.payload);
    Py_DECREF(copies);
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

PyMethodDef fan_method = {"fan", (PyCFunction)(void (*)(void))fan, METH_FASTCALL,
                          "fan(copies, start, end, payload, seq, ts, marker, abs24, level, now)"};

int fanout_init(void) {
    return route_init() < 0 || PyType_Ready(&CopyType) < 0 ? -1 : 0;
}

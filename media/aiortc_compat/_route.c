/* `Route`: one subscriber's DTLS transport seen from the send path (docs/architecture.md "Paths:
 * ... an RTP packet", step 4). Per packet it checks what media/aiortc_compat/send.py's Python send
 * checks (DTLS connected, the nominated ICE pair, the SRTP context), asks Python for a new `Target`
 * only when the pair or the context changed, and sends through it; where no Target can address
 * the pair it hands the plain packet to Python. The copies (_fanout.c) send through one. */
#include "_srtpsend.h"
#include <string.h>

static PyObject *str_state, *str_tx_srtp, *one;

struct Route {
    PyObject_HEAD
    PyObject *dtls, *nominated, *connected, *retarget, *slow;
    PyObject *pair, *session; /* what `target` was made for */
    PyObject *target;         /* a Target, or None: the Python way (`slow`) */
};

static int Route_traverse(Route *self, visitproc visit, void *arg) {
    Py_VISIT(self->dtls);
    Py_VISIT(self->nominated);
    Py_VISIT(self->connected);
    Py_VISIT(self->retarget);
    Py_VISIT(self->slow);
    Py_VISIT(self->pair);
    Py_VISIT(self->session);
    Py_VISIT(self->target);
    return 0;
}

static int Route_clear(Route *self) {
    Py_CLEAR(self->dtls);
    Py_CLEAR(self->nominated);
    Py_CLEAR(self->connected);
    Py_CLEAR(self->retarget);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->pair);
    Py_CLEAR(self->session);
    Py_CLEAR(self->target);
    return 0;
}

static void Route_dealloc(Route *self) {
    PyObject_GC_UnTrack(self);
    Route_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Route(dtls, nominated, connected_state, retarget(pair, session) -> Target | None, slow(data) -> bool | None) */
static int Route_init(Route *self, PyObject *args, PyObject *kwds) {
    PyObject *dtls, *nominated, *connected, *retarget, *slow;
    if (!PyArg_ParseTuple(args, "OO!OOO", &dtls, &PyDict_Type, &nominated, &connected, &retarget, &slow))
        return -1;
    if (!PyCallable_Check(retarget) || !PyCallable_Check(slow)) {
        PyErr_SetString(PyExc_TypeError, "retarget and slow must be callable");
        return -1;
    }
    Py_XSETREF(self->dtls, Py_NewRef(dtls));
    Py_XSETREF(self->nominated, Py_NewRef(nominated));
    Py_XSETREF(self->connected, Py_NewRef(connected));
    Py_XSETREF(self->retarget, Py_NewRef(retarget));
    Py_XSETREF(self->slow, Py_NewRef(slow));
    Py_CLEAR(self->pair);
    Py_CLEAR(self->session);
    Py_CLEAR(self->target);
    return 0;
}

/* Protect and send `len` bytes of RTP in `buffer`: 1 sent, 0 refused (SRTP, the kernel), -1 no
 * transport (DTLS not connected, no nominated pair), -2 a Python error is set. */
int route_emit(Route *r, unsigned char *buffer, int len) {
    PyObject *state = PyObject_GetAttr(r->dtls, str_state);
    if (state == NULL)
        return -2;
    int connected = state == r->connected;
    Py_DECREF(state);
    if (!connected)
        return -1;
    PyObject *pair = PyDict_GetItemWithError(r->nominated, one); /* borrowed */
    if (pair == NULL)
        return PyErr_Occurred() ? -2 : -1;
    PyObject *session = PyObject_GetAttr(r->dtls, str_tx_srtp);
    if (session == NULL)
        return -2;
    if (pair != r->pair || session != r->session) {
        Py_INCREF(pair); /* the call below may run any code: keep the pair while it does */
        PyObject *target = PyObject_CallFunctionObjArgs(r->retarget, pair, session, NULL);
        if (target == NULL) {
            Py_DECREF(pair);
            Py_DECREF(session);
            return -2;
        }
        Py_XSETREF(r->pair, pair);
        Py_XSETREF(r->session, session);
        Py_XSETREF(r->target, target);
    } else {
        Py_DECREF(session);
    }
    if (PyObject_TypeCheck(r->target, &TargetType))
        return target_emit((Target *)r->target, buffer, len);
    PyObject *data = PyBytes_FromStringAndSize((const char *)buffer, len);
    if (data == NULL)
        return -2;
    PyObject *result = PyObject_CallOneArg(r->slow, data);
    Py_DECREF(data);
    if (result == NULL)
        return -2;
    int sent = result == Py_None ? -1 : PyObject_IsTrue(result);
    Py_DECREF(result);
    return sent < -1 ? -2 : sent;
}

PyObject *sent_result(int sent) {
    if (sent == -2)
        return NULL;
    if (sent < 0)
        Py_RETURN_NONE;
    return PyBool_FromLong(sent);
}

/* send(marker_pt, seq, timestamp, ssrc, extensions, payload) -> True | None | False (compat.RtpSend) */
static PyObject *Route_send(Route *self, PyObject *const *args, Py_ssize_t nargs) {
    unsigned char buffer[BUFFER_SIZE];
    int len = rtp_build(buffer, args, nargs);
    if (len < 0)
        return NULL;
    return sent_result(route_emit(self, buffer, len));
}

static PyMethodDef Route_methods[] = {
    {"send", (PyCFunction)(void (*)(void))Route_send, METH_FASTCALL,
     "send(marker_pt, seq, timestamp, ssrc, extensions, payload) -> True, None (no transport) or False (refused)"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media.aiortc_compat._srtpsend.Route",
    .tp_doc = "One subscriber's DTLS transport: checks its state and nominated pair per packet, sends through a Target.",
    .tp_basicsize = sizeof(Route),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Route_init,
    .tp_traverse = (traverseproc)Route_traverse,
    .tp_clear = (inquiry)Route_clear,
    .tp_dealloc = (destructor)Route_dealloc,
    .tp_methods = Route_methods,
};

int route_init(void) {
    str_state = PyUnicode_InternFromString("_state");
    str_tx_srtp = PyUnicode_InternFromString("_tx_srtp");
    one = PyLong_FromLong(1);
    if (str_state == NULL || str_tx_srtp == NULL || one == NULL)
        return -1;
    return PyType_Ready(&RouteType);
}

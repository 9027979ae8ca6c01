/* Estimator: aiortc's RemoteBitrateEstimator (aiortc/rate.py: its RateCounter, InterArrival,
 * OveruseEstimator, OveruseDetector and AimdRateControl) in C, with the same results for the same
 * packets: the same operations on doubles in the same order, Python's round() as nearbyint (both
 * round half to even), int() as truncation. What a publish m-line's REMB is computed from, per
 * packet of every video publication (media/aiortc_compat/lean_receive.py; docs/architecture.md
 * "Paths: ... an RTP packet"). Deviations, for inputs aiortc's parser cannot produce or on which
 * aiortc raises: abs-send-time is taken as its 24 bits; at most MAX_SSRCS SSRCs are listed; a
 * current bitrate of 0 gives the near-max increase its 4000 bit/s floor instead of dividing by 0. */
#include "_srtpsend.h"
#include <math.h>

#define WINDOW 1000          /* RateCounter(1000, 8000): 1 ms buckets over 1 s, bits */
#define SCALE 8000
#define BURST_DELTA_THRESHOLD_MS 5
#define MAX_ADAPT_OFFSET_MS 15
#define MIN_NUM_DELTAS 60
#define DELTA_COUNTER_MAX 1000
#define HISTORY 60           /* MIN_FRAME_PERIOD_HISTORY_LENGTH */
#define GROUP_LENGTH ((5LL << 26) / 1000)
#define TIMESTAMP_TO_MS (1000.0 / (double)(1 << 26))
#define FEEDBACK_INTERVAL 500
#define MAX_SSRCS 16
enum { NORMAL = 0, UNDERUSING = 1, OVERUSING = 2 };
enum { HOLD = 0, INCREASE = 1, DECREASE = 2 };

typedef struct {
    int present;
    long long arrival_time, first_timestamp, last_timestamp, size;
} Group;

typedef struct {
    PyObject_HEAD
    /* RateCounter */
    long long counts[WINDOW], values[WINDOW], total_count, total_value, origin_ms;
    int origin_index, origin_set, bitrate_initialized;
    /* InterArrival */
    Group current, previous;
    /* OveruseEstimator */
    double E[2][2], offset, previous_offset, slope, avg_noise, var_noise, hist[HISTORY];
    int num_of_deltas, hist_start, hist_len;
    /* OveruseDetector */
    int hypothesis, overuse_counter, overuse_time_set, detector_updated;
    double overuse_time, detector_previous_offset, threshold;
    long long detector_last_update_ms;
    /* AimdRateControl */
    int avg_max_set, near_max, state, bitrate_set, first_throughput_set, last_change_set;
    double avg_max_kbps, var_max_kbps;
    long long current_bitrate, first_throughput_time, last_change_ms, latest_throughput;
    /* RemoteBitrateEstimator */
    int last_update_set, nssrcs;
    long long last_update_ms;
    unsigned long ssrcs[MAX_SSRCS];
} Estimator;

static int uint32_gt(long long a, long long b) {
    const long long half = 0x80000000LL;
    return (a < b && b - a > half) || (a > b && a - b < half);
}

static long long uint32_sub(long long a, long long b) { return (a - b) & 0xFFFFFFFFLL; }

/* Python's `x ** 2` is libm's pow(x, 2.0); kept a call (the compiler would make it x * x, which
 * can differ from pow in the last bit) */
static double square(double x) {
    volatile double two = 2.0;
    return pow(x, two);
}

/* --- RateCounter ------------------------------------------------------------------------- */

static void rate_reset(Estimator *e) {
    memset(e->counts, 0, sizeof e->counts);
    memset(e->values, 0, sizeof e->values);
    e->total_count = e->total_value = 0;
    e->origin_index = 0;
    e->origin_set = 0;
}

static void rate_erase_old(Estimator *e, long long now_ms) {
    long long new_origin = now_ms - WINDOW + 1;
    if (e->origin_ms >= new_origin)
        return;
    if (new_origin - e->origin_ms >= WINDOW) {     /* every bucket left: what aiortc's loop ends at */
        e->origin_index = (int)((e->origin_index + (new_origin - e->origin_ms)) % WINDOW);
        memset(e->counts, 0, sizeof e->counts);
        memset(e->values, 0, sizeof e->values);
        e->total_count = e->total_value = 0;
        e->origin_ms = new_origin;
        return;
    }
    while (e->origin_ms < new_origin) {
        e->total_count -= e->counts[e->origin_index];
        e->total_value -= e->values[e->origin_index];
        e->counts[e->origin_index] = e->values[e->origin_index] = 0;
        e->origin_index = (e->origin_index + 1) % WINDOW;
        e->origin_ms += 1;
    }
}

static void rate_add(Estimator *e, long long value, long long now_ms) {
    if (!e->origin_set) {
        e->origin_ms = now_ms;
        e->origin_set = 1;
    } else {
        rate_erase_old(e, now_ms);
    }
    long long index = (e->origin_index + now_ms - e->origin_ms) % WINDOW;
    if (index < 0)     /* Python's % is never negative (a packet from before the origin) */
        index += WINDOW;
    e->counts[index] += 1;
    e->values[index] += value;
    e->total_count += 1;
    e->total_value += value;
}

/* 1 and the rate into *out, or 0 (aiortc's None) */
static int rate_rate(Estimator *e, long long now_ms, long long *out) {
    if (!e->origin_set)
        return 0;
    rate_erase_old(e, now_ms);
    long long active = now_ms - e->origin_ms + 1;
    if (e->total_count > 0 && active > 1) {
        *out = (long long)nearbyint((double)(SCALE * e->total_value) / (double)active);
        return 1;
    }
    return 0;
}

/* --- InterArrival -------------------------------------------------------------------------- */

static int belongs_to_burst(Estimator *e, long long timestamp, long long arrival_time) {
    long long ts_delta = uint32_sub(timestamp, e->current.last_timestamp);
    long long ts_delta_ms = (long long)nearbyint(TIMESTAMP_TO_MS * (double)ts_delta);
    long long arrival_delta = arrival_time - e->current.arrival_time;
    return ts_delta_ms == 0 || (arrival_delta - ts_delta_ms < 0 && arrival_delta <= BURST_DELTA_THRESHOLD_MS);
}

/* 1 with the deltas (timestamp, arrival time, size) when a group completed */
static int compute_deltas(Estimator *e, long long timestamp, long long arrival_time, long long size,
                          long long deltas[3]) {
    int have = 0;
    if (!e->current.present) {
        e->current = (Group){1, 0, timestamp, timestamp, 0};
    } else if (uint32_sub(timestamp, e->current.first_timestamp) >= 0x80000000LL) {
        return 0;   /* out of order */
    } else if (!belongs_to_burst(e, timestamp, arrival_time)
               && uint32_sub(timestamp, e->current.first_timestamp) > GROUP_LENGTH) {
        if (e->previous.present) {
            deltas[0] = uint32_sub(e->current.last_timestamp, e->previous.last_timestamp);
            deltas[1] = e->current.arrival_time - e->previous.arrival_time;
            deltas[2] = e->current.size - e->previous.size;
            have = 1;
        }
        e->previous = e->current;
        e->current = (Group){1, 0, timestamp, timestamp, 0};
    } else if (uint32_gt(timestamp, e->current.last_timestamp)) {
        e->current.last_timestamp = timestamp;
    }
    e->current.size += size;
    e->current.arrival_time = arrival_time;
    return have;
}

/* --- OveruseEstimator ----------------------------------------------------------------------- */

static double update_min_frame_period(Estimator *e, double ts_delta) {
    double min_frame_period = ts_delta;
    if (e->hist_len >= HISTORY) {
        e->hist_start = (e->hist_start + 1) % HISTORY;
        e->hist_len -= 1;
    }
    for (int i = 0; i < e->hist_len; i++) {
        double old = e->hist[(e->hist_start + i) % HISTORY];
        if (old < min_frame_period)
            min_frame_period = old;
    }
    e->hist[(e->hist_start + e->hist_len) % HISTORY] = ts_delta;
    e->hist_len += 1;
    return min_frame_period;
}

static void update_noise_estimate(Estimator *e, double residual, double ts_delta) {
    double alpha = e->num_of_deltas > 10 * 30 ? 0.002 : 0.01;
    double beta = pow(1 - alpha, ts_delta * 30.0 / 1000.0);
    e->avg_noise = beta * e->avg_noise + (1 - beta) * residual;
    e->var_noise = beta * e->var_noise + (1 - beta) * square(e->avg_noise - residual);
    if (e->var_noise < 1)
        e->var_noise = 1;
}

static void estimator_update(Estimator *e, long long time_delta_ms, double timestamp_delta_ms, long long size_delta,
                             int hypothesis) {
    const double process_noise[2] = {1e-13, 1e-3};
    double min_frame_period = update_min_frame_period(e, timestamp_delta_ms);
    double t_ts_delta = (double)time_delta_ms - timestamp_delta_ms;
    double h0 = (double)size_delta, h1 = 1.0;
    e->num_of_deltas = e->num_of_deltas + 1 < DELTA_COUNTER_MAX ? e->num_of_deltas + 1 : DELTA_COUNTER_MAX;
    e->E[0][0] += process_noise[0];
    e->E[1][1] += process_noise[1];
    if ((hypothesis == OVERUSING && e->offset < e->previous_offset)
        || (hypothesis == UNDERUSING && e->offset > e->previous_offset))
        e->E[1][1] += 10 * process_noise[1];
    double Eh0 = e->E[0][0] * h0 + e->E[0][1] * h1;
    double Eh1 = e->E[1][0] * h0 + e->E[1][1] * h1;
    double residual = t_ts_delta - e->slope * h0 - e->offset;
    if (hypothesis == NORMAL) {
        double max_residual = 3.0 * sqrt(e->var_noise);
        if (fabs(residual) < max_residual)
            update_noise_estimate(e, residual, min_frame_period);
        else
            update_noise_estimate(e, residual < 0 ? -max_residual : max_residual, min_frame_period);
    }
    double denom = e->var_noise + h0 * Eh0 + h1 * Eh1;
    double K0 = Eh0 / denom, K1 = Eh1 / denom;
    double IKh00 = 1.0 - K0 * h0, IKh01 = -K0 * h1, IKh10 = -K1 * h0, IKh11 = 1.0 - K1 * h1;
    double e00 = e->E[0][0], e01 = e->E[0][1], e10 = e->E[1][0], e11 = e->E[1][1];
    e->E[0][0] = e00 * IKh00 + e10 * IKh01;
    e->E[0][1] = e01 * IKh00 + e11 * IKh01;
    e->E[1][0] = e00 * IKh10 + e10 * IKh11;
    e->E[1][1] = e01 * IKh10 + e11 * IKh11;
    e->previous_offset = e->offset;
    e->slope += K0 * residual;
    e->offset += K1 * residual;
}

/* --- OveruseDetector ------------------------------------------------------------------------ */

static void update_threshold(Estimator *e, double modified_offset, long long now_ms) {
    if (!e->detector_updated) {
        e->detector_last_update_ms = now_ms;
        e->detector_updated = 1;
    }
    if (fabs(modified_offset) > e->threshold + MAX_ADAPT_OFFSET_MS) {
        e->detector_last_update_ms = now_ms;
        return;
    }
    double k = fabs(modified_offset) < e->threshold ? 0.039 : 0.0087;
    long long time_delta_ms = now_ms - e->detector_last_update_ms;
    if (time_delta_ms > 100)
        time_delta_ms = 100;
    e->threshold += k * (fabs(modified_offset) - e->threshold) * (double)time_delta_ms;
    if (e->threshold > 600)
        e->threshold = 600;
    if (e->threshold < 6)
        e->threshold = 6;
    e->detector_last_update_ms = now_ms;
}

static void detect(Estimator *e, double offset, double timestamp_delta_ms, int num_of_deltas, long long now_ms) {
    if (num_of_deltas < 2)
        return;
    double T = (double)(num_of_deltas < MIN_NUM_DELTAS ? num_of_deltas : MIN_NUM_DELTAS) * offset;
    if (T > e->threshold) {
        if (!e->overuse_time_set) {
            e->overuse_time = timestamp_delta_ms / 2;
            e->overuse_time_set = 1;
        } else {
            e->overuse_time += timestamp_delta_ms;
        }
        e->overuse_counter += 1;
        if (e->overuse_time > 10 && e->overuse_counter > 1 && offset >= e->detector_previous_offset) {
            e->overuse_counter = 0;
            e->overuse_time = 0;
            e->hypothesis = OVERUSING;
        }
    } else if (T < -e->threshold) {
        e->overuse_counter = 0;
        e->overuse_time_set = 0;
        e->hypothesis = UNDERUSING;
    } else {
        e->overuse_counter = 0;
        e->overuse_time_set = 0;
        e->hypothesis = NORMAL;
    }
    e->detector_previous_offset = offset;
    update_threshold(e, T, now_ms);
}

/* --- AimdRateControl ------------------------------------------------------------------------ */

static long long near_max_rate_increase(Estimator *e) {
    double bits_per_frame = (double)e->current_bitrate / 30;
    double packets_per_frame = ceil(bits_per_frame / (8 * 1200));
    if (packets_per_frame <= 0)
        return 4000;
    double avg_packet_size_bits = bits_per_frame / packets_per_frame;
    long long increase = (long long)((avg_packet_size_bits * 1000) / (double)(200 + 100));   /* rtt + 100 */
    return increase > 4000 ? increase : 4000;
}

static void update_max_throughput(Estimator *e, double kbps) {
    const double alpha = 0.05;
    if (!e->avg_max_set) {
        e->avg_max_kbps = kbps;
        e->avg_max_set = 1;
    } else {
        e->avg_max_kbps = (1 - alpha) * e->avg_max_kbps + alpha * kbps;
    }
    double norm = 1 > e->avg_max_kbps ? 1 : e->avg_max_kbps;
    e->var_max_kbps = (1 - alpha) * e->var_max_kbps + alpha * square(e->avg_max_kbps - kbps) / norm;
    if (e->var_max_kbps > 2.5)
        e->var_max_kbps = 2.5;
    if (e->var_max_kbps < 0.4)
        e->var_max_kbps = 0.4;
}

/* 1 with the new bitrate in *out, or 0 (aiortc's None) */
static int rate_control_update(Estimator *e, int usage, int have_throughput, long long throughput, long long now_ms,
                               long long *out) {
    if (!e->bitrate_set && have_throughput) {
        if (!e->first_throughput_set) {
            e->first_throughput_time = now_ms;
            e->first_throughput_set = 1;
        } else if (now_ms - e->first_throughput_time > 3000) {
            e->current_bitrate = throughput;
            e->bitrate_set = 1;
        }
    }
    if (!e->bitrate_set && usage != OVERUSING)
        return 0;
    if (usage == NORMAL && e->state == HOLD) {
        e->last_change_ms = now_ms;
        e->last_change_set = 1;
        e->state = INCREASE;
    } else if (usage == OVERUSING) {
        e->state = DECREASE;
    } else if (usage == UNDERUSING) {
        e->state = HOLD;
    }
    long long new_bitrate = e->current_bitrate;
    if (have_throughput)
        e->latest_throughput = throughput;
    else
        throughput = e->latest_throughput;
    double kbps = (double)throughput / 1000;
    if (e->state == INCREASE) {
        if (e->avg_max_set) {
            double sigma = sqrt(e->var_max_kbps * e->avg_max_kbps);
            if (kbps >= e->avg_max_kbps + 3 * sigma) {
                e->near_max = 0;
                e->avg_max_set = 0;
            }
        }
        if (e->near_max) {
            new_bitrate += (long long)((double)((now_ms - e->last_change_ms) * near_max_rate_increase(e)) / 1000);
        } else {
            double alpha = 1.08;
            if (e->last_change_set) {
                long long elapsed = now_ms - e->last_change_ms;
                alpha = pow(alpha, (double)(elapsed < 1000 ? elapsed : 1000) / 1000);
            }
            double increase = (alpha - 1) * (double)new_bitrate;
            new_bitrate += 1000 > increase ? 1000 : (long long)increase;
        }
        e->last_change_ms = now_ms;
        e->last_change_set = 1;
    } else if (e->state == DECREASE) {
        if (e->avg_max_set) {
            double sigma = sqrt(e->var_max_kbps * e->avg_max_kbps);
            if (kbps < e->avg_max_kbps - 3 * sigma)
                e->avg_max_set = 0;
        }
        update_max_throughput(e, kbps);
        e->near_max = 1;
        new_bitrate = (long long)nearbyint(0.85 * (double)throughput);
        e->last_change_ms = now_ms;
        e->last_change_set = 1;
        e->state = HOLD;
    }
    long long max_bitrate = (long long)(1.5 * (double)throughput) + 10000;
    if (max_bitrate < e->current_bitrate)
        max_bitrate = e->current_bitrate;
    e->current_bitrate = new_bitrate < max_bitrate ? new_bitrate : max_bitrate;
    *out = e->current_bitrate;
    return 1;
}

/* --- the estimator ------------------------------------------------------------------------- */

static int Estimator_init(Estimator *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "", kwlist))
        return -1;
    memset((char *)e + sizeof(PyObject), 0, sizeof(Estimator) - sizeof(PyObject));
    e->bitrate_initialized = 1;
    e->E[0][0] = 100.0;
    e->E[1][1] = 0.1;
    e->slope = 1.0 / 64;
    e->var_noise = 50.0;
    e->threshold = 12.5;
    e->var_max_kbps = 0.4;
    e->current_bitrate = e->latest_throughput = 30000000;
    return 0;
}

static PyObject *Estimator_add(Estimator *e, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"arrival_time_ms", "abs_send_time", "payload_size", "ssrc", NULL};
    long long now_ms, abs_send_time, size;
    unsigned long ssrc;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LLLk", kwlist, &now_ms, &abs_send_time, &size, &ssrc))
        return NULL;
    long long timestamp = (abs_send_time & 0xFFFFFF) << 8;
    int known = 0;
    for (int i = 0; i < e->nssrcs && !known; i++)
        known = e->ssrcs[i] == ssrc;
    if (!known && e->nssrcs < MAX_SSRCS)
        e->ssrcs[e->nssrcs++] = ssrc;

    long long rate;
    if (rate_rate(e, now_ms, &rate)) {
        e->bitrate_initialized = 1;
    } else if (e->bitrate_initialized) {
        rate_reset(e);
        e->bitrate_initialized = 0;
    }
    rate_add(e, size, now_ms);

    long long deltas[3];
    if (compute_deltas(e, timestamp, now_ms, size, deltas)) {
        double timestamp_delta_ms = (double)deltas[0] * TIMESTAMP_TO_MS;
        estimator_update(e, deltas[1], timestamp_delta_ms, deltas[2], e->hypothesis);
        detect(e, e->offset, timestamp_delta_ms, e->num_of_deltas, now_ms);
    }
    if (!(!e->last_update_set || now_ms - e->last_update_ms > FEEDBACK_INTERVAL || e->hypothesis == OVERUSING))
        Py_RETURN_NONE;
    long long target;
    int have_throughput = rate_rate(e, now_ms, &rate);
    if (!rate_control_update(e, e->hypothesis, have_throughput, rate, now_ms, &target))
        Py_RETURN_NONE;
    e->last_update_ms = now_ms;
    e->last_update_set = 1;
    PyObject *ssrcs = PyList_New(e->nssrcs);
    if (ssrcs == NULL)
        return NULL;
    for (int i = 0; i < e->nssrcs; i++) {
        PyObject *s = PyLong_FromUnsignedLong(e->ssrcs[i]);
        if (s == NULL) {
            Py_DECREF(ssrcs);
            return NULL;
        }
        PyList_SET_ITEM(ssrcs, i, s);
    }
    return Py_BuildValue("(LN)", target, ssrcs);
}

static PyObject *Estimator_state(Estimator *e, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("{s:d,s:d,s:d,s:d,s:i,s:i,s:d,s:L,s:i,s:L}", "offset", e->offset, "slope", e->slope,
                         "var_noise", e->var_noise, "threshold", e->threshold, "num_of_deltas", e->num_of_deltas,
                         "hypothesis", e->hypothesis, "avg_noise", e->avg_noise, "current_bitrate",
                         e->current_bitrate, "rate_state", e->state, "bitrate_sum", e->total_value);
}

static PyMethodDef Estimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))Estimator_add, METH_VARARGS | METH_KEYWORDS,
     "add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, [ssrc...]) or None, as aiortc's"},
    {"state", (PyCFunction)Estimator_state, METH_NOARGS, "the filter's figures, to compare with aiortc's"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject EstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "media.aiortc_compat._srtpsend.Estimator",
    .tp_doc = "aiortc's RemoteBitrateEstimator, in C (media/aiortc_compat/_remb.c).",
    .tp_basicsize = sizeof(Estimator),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Estimator_init,
    .tp_methods = Estimator_methods,
};

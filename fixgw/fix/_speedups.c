/* The session hot path's busiest pure functions in C (optional: fixgw runs the same
 * logic in Python when this is not built; tests/fix/test_fix_speedups.py compares them).
 *
 * frame_tail: codec.frame_tail, the framing of a reply whose body is bytes already on the wire.
 *
 * encode_turn: the session store's journal record for one commit (see
 * fixgw/session/store_journal.py for the layout; the same bytes as its Python encoder).
 *
 * split_canonical: the parser's common case, a framed FIX message with a canonical CheckSum
 * whose values hold no '=' or SOH, split into its (tag, value) pairs and its shape.
 *
 * Why: on a lone message the gateway's own latency is mostly its Python work, and on a busy
 * shared machine that work is what stretches when the CPU slows down (the p99). The simple
 * split was the largest single piece of it (~35k of ~150k instructions a message); here it
 * is a few thousand, in one compact function.
 *
 * Contract (see fixgw/fix/codec.py, parse_shaped): split_canonical(raw, checksum_at, shapes)
 * returns (fields, shape) exactly as the Python simple split would, or None whenever that is
 * not certain: a CheckSum that is wrong or not three digits, a separator that does not
 * alternate '=' SOH, or a shape not yet in ``shapes`` (the Python path then decides, raises
 * the right error and fills the cache). It never raises for bad input; only a ``shapes``
 * that is not a dict is a TypeError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define SOH 1
#define MAX_FIELDS 512           /* more (rare) goes to the Python split: a small stack frame */
#define MAX_SHAPE 1024           /* codec.MAX_SHAPE_TEXT is 640: longer shapes are not cached */

static PyObject *
split_canonical(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "split_canonical(raw: bytes, checksum_at: int, shapes: dict)");
        return NULL;
    }
    PyObject *raw = args[0];
    if (!PyBytes_CheckExact(raw))
        Py_RETURN_NONE;
    Py_ssize_t k = PyLong_Check(args[1]) ? PyLong_AsSsize_t(args[1]) : -1;
    if (k == -1 && PyErr_Occurred())
        PyErr_Clear();                  /* out of range: not the framer's proof */
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(raw);
    Py_ssize_t n = PyBytes_GET_SIZE(raw);
    /* "SOH 10=" at k, then exactly three digits and the final SOH */
    if (k <= 0 || k != n - 8 || b[k] != SOH || b[k + 1] != '1' || b[k + 2] != '0'
            || b[k + 3] != '=' || b[n - 1] != SOH)
        Py_RETURN_NONE;

    /* One pass: the byte sum up to and including the SOH at k, and where each '=' and SOH
     * is; they must alternate, starting with '=' (the last separator is the SOH at n-1). */
    Py_ssize_t eq[MAX_FIELDS], soh[MAX_FIELDS];
    Py_ssize_t fields = 0;
    int want_eq = 1;
    unsigned int sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = b[i];
        if (i <= k)
            sum += c;
        if (c == '=') {
            if (!want_eq || fields >= MAX_FIELDS)
                Py_RETURN_NONE;
            eq[fields] = i;
            want_eq = 0;
        } else if (c == SOH) {
            if (want_eq)
                Py_RETURN_NONE;
            soh[fields++] = i;
            want_eq = 1;
        }
    }
    sum &= 255;
    if (b[k + 4] != '0' + sum / 100 || b[k + 5] != '0' + (sum / 10) % 10
            || b[k + 6] != '0' + sum % 10)
        Py_RETURN_NONE;

    /* The shape: the third value (the MsgType), SOH, then the tag texts joined by SOH. */
    char shape_text[MAX_SHAPE];
    Py_ssize_t used = 0;
    if (fields >= 3) {
        Py_ssize_t start = eq[2] + 1, length = soh[2] - start;
        if (length >= MAX_SHAPE)
            Py_RETURN_NONE;
        memcpy(shape_text, b + start, (size_t)length);
        used = length;
    }
    for (Py_ssize_t f = 0; f < fields; f++) {
        Py_ssize_t start = f == 0 ? 0 : soh[f - 1] + 1, length = eq[f] - start;
        if (used + 1 + length > MAX_SHAPE)
            Py_RETURN_NONE;
        shape_text[used++] = SOH;
        memcpy(shape_text + used, b + start, (size_t)length);
        used += length;
    }
    PyObject *shape = PyUnicode_DecodeLatin1(shape_text, used, NULL);
    if (shape == NULL)
        return NULL;
    PyObject *tags = PyDict_GetItemWithError(args[2], shape);     /* borrowed */
    if (tags == NULL) {
        Py_DECREF(shape);
        if (PyErr_Occurred())
            return NULL;
        Py_RETURN_NONE;
    }
    if (!PyTuple_CheckExact(tags) || PyTuple_GET_SIZE(tags) != fields || fields == 0) {
        Py_DECREF(shape);
        Py_RETURN_NONE;
    }
    /* Owned from here: the allocations below may run a GC pass, whose callbacks could clear
     * the shape cache and free a borrowed tuple. */
    Py_INCREF(tags);
    PyObject *pairs = PyTuple_New(fields);
    if (pairs == NULL) {
        Py_DECREF(tags);
        Py_DECREF(shape);
        return NULL;
    }
    for (Py_ssize_t f = 0; f < fields; f++) {
        PyObject *value = PyUnicode_DecodeLatin1((const char *)b + eq[f] + 1,
                                                 soh[f] - eq[f] - 1, NULL);
        if (value == NULL)
            goto fail;
        PyObject *tag = PyTuple_GET_ITEM(tags, f);
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL) {
            Py_DECREF(value);
            goto fail;
        }
        Py_INCREF(tag);
        PyTuple_SET_ITEM(pair, 0, tag);
        PyTuple_SET_ITEM(pair, 1, value);
        PyTuple_SET_ITEM(pairs, f, pair);
    }
    PyObject *result = PyTuple_New(2);
    if (result == NULL)
        goto fail;
    PyTuple_SET_ITEM(result, 0, pairs);
    PyTuple_SET_ITEM(result, 1, shape);
    Py_DECREF(tags);
    return result;

fail:
    Py_DECREF(tags);
    Py_DECREF(pairs);
    Py_DECREF(shape);
    return NULL;
}

/* values_pass: Validator.values_pass (fixgw/fix/validation.py) for a shape's plan, the same
 * answer for every message: each inline test is one the format check itself passes, and when
 * it fails the Python format check (given once to configure_values) decides. */

static PyObject *is_int_check, *is_float_check, *is_timestamp_check, *seconds_ok;

static PyObject *
configure_values(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "configure_values(is_int, is_float, is_timestamp, seconds_ok: dict)");
        return NULL;
    }
    Py_XSETREF(is_int_check, Py_NewRef(args[0]));
    Py_XSETREF(is_float_check, Py_NewRef(args[1]));
    Py_XSETREF(is_timestamp_check, Py_NewRef(args[2]));
    Py_XSETREF(seconds_ok, Py_NewRef(args[3]));
    Py_RETURN_NONE;
}

/* fields[i][1] (borrowed), or NULL when it is not a str in a pair at a valid index */
static PyObject *
value_at(PyObject *fields, PyObject *index)
{
    Py_ssize_t i = PyLong_AsSsize_t(index);
    if (i < 0 || i >= PyTuple_GET_SIZE(fields)) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *pair = PyTuple_GET_ITEM(fields, i);
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2)
        return NULL;
    PyObject *value = PyTuple_GET_ITEM(pair, 1);
    return PyUnicode_CheckExact(value) ? value : NULL;    /* a subclass: the exact path */
}

/* 1 true, 0 false, -1 error: what ``check(value)`` says */
static int
ask(PyObject *check, PyObject *value)
{
    if (check == NULL)
        return 0;
    PyObject *answer = PyObject_CallOneArg(check, value);
    if (answer == NULL)
        return -1;
    int truth = PyObject_IsTrue(answer);
    Py_DECREF(answer);
    return truth;
}

static inline int
ascii_digit(Py_UCS4 c)
{
    return c >= '0' && c <= '9';
}

/* str.isdigit() and str.isascii() */
static int
all_ascii_digits(PyObject *v)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (n == 0 || !PyUnicode_IS_ASCII(v))
        return 0;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(v);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!ascii_digit(d[i]))
            return 0;
    return 1;
}

/* v.replace(".", "", 1).isdigit() and v.isascii() */
static int
ascii_decimal(PyObject *v)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    if (!PyUnicode_IS_ASCII(v))
        return 0;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(v);
    int dot = 0, digits = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (d[i] == '.' && !dot)
            dot = 1;
        else if (ascii_digit(d[i]))
            digits++;
        else
            return 0;
    }
    return digits > 0;
}

/* v[17:] in _DOT_MILLIS and _TS_SECONDS_OK.get(v[:17]): 1, 0 or -1 (error) */
static int
cached_timestamp(PyObject *v)
{
    if (seconds_ok == NULL || PyUnicode_GET_LENGTH(v) != 21 || !PyUnicode_IS_ASCII(v))
        return 0;
    const Py_UCS1 *d = PyUnicode_1BYTE_DATA(v);
    if (d[17] != '.' || !ascii_digit(d[18]) || !ascii_digit(d[19]) || !ascii_digit(d[20]))
        return 0;
    PyObject *seconds = PyUnicode_Substring(v, 0, 17);
    if (seconds == NULL)
        return -1;
    PyObject *ok = PyDict_GetItemWithError(seconds_ok, seconds);    /* borrowed */
    Py_DECREF(seconds);
    if (ok == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return PyObject_IsTrue(ok);
}

#define FAIL_OR_ERROR(truth) do { int t_ = (truth); if (t_ < 0) return NULL; \
                                  if (t_ == 0) Py_RETURN_FALSE; } while (0)

static PyObject *values_pass_tuple(PyObject *fields, PyObject *plan);

static PyObject *
values_pass(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) < 6) {
        PyErr_SetString(PyExc_TypeError, "values_pass(fields, plan: _Plan)");
        return NULL;
    }
    if (PyTuple_Check(args[0]))         /* the parser's fields: the usual case */
        return values_pass_tuple(args[0], args[1]);
    PyObject *fields = PySequence_Tuple(args[0]);      /* any other sequence of pairs */
    if (fields == NULL)
        return NULL;
    PyObject *answer = values_pass_tuple(fields, args[1]);
    Py_DECREF(fields);
    return answer;
}

static PyObject *
values_pass_tuple(PyObject *fields, PyObject *plan)
{
    for (int part = 0; part < 6; part++)
        if (!PyTuple_Check(PyTuple_GET_ITEM(plan, part)))
            Py_RETURN_FALSE;
    PyObject *non_empty = PyTuple_GET_ITEM(plan, 0), *in_enums = PyTuple_GET_ITEM(plan, 1),
             *formatted = PyTuple_GET_ITEM(plan, 2), *ints = PyTuple_GET_ITEM(plan, 3),
             *floats = PyTuple_GET_ITEM(plan, 4), *stamps = PyTuple_GET_ITEM(plan, 5);
    PyObject *v;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(non_empty); j++) {
        v = value_at(fields, PyTuple_GET_ITEM(non_empty, j));
        if (v == NULL || PyUnicode_GET_LENGTH(v) == 0)
            Py_RETURN_FALSE;
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(in_enums); j++) {
        PyObject *entry = PyTuple_GET_ITEM(in_enums, j);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2)
            Py_RETURN_FALSE;
        v = value_at(fields, PyTuple_GET_ITEM(entry, 0));
        if (v == NULL)
            Py_RETURN_FALSE;
        FAIL_OR_ERROR(PySequence_Contains(PyTuple_GET_ITEM(entry, 1), v));
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(ints); j++) {
        v = value_at(fields, PyTuple_GET_ITEM(ints, j));
        if (v == NULL)
            Py_RETURN_FALSE;
        if (!all_ascii_digits(v))
            FAIL_OR_ERROR(ask(is_int_check, v));
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(floats); j++) {
        v = value_at(fields, PyTuple_GET_ITEM(floats, j));
        if (v == NULL)
            Py_RETURN_FALSE;
        if (!ascii_decimal(v))
            FAIL_OR_ERROR(ask(is_float_check, v));
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(stamps); j++) {
        v = value_at(fields, PyTuple_GET_ITEM(stamps, j));
        if (v == NULL)
            Py_RETURN_FALSE;
        int cached = cached_timestamp(v);
        if (cached < 0)
            return NULL;
        if (!cached)
            FAIL_OR_ERROR(ask(is_timestamp_check, v));
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(formatted); j++) {
        PyObject *entry = PyTuple_GET_ITEM(formatted, j);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2)
            Py_RETURN_FALSE;
        v = value_at(fields, PyTuple_GET_ITEM(entry, 0));
        if (v == NULL)
            Py_RETURN_FALSE;
        FAIL_OR_ERROR(ask(PyTuple_GET_ITEM(entry, 1), v));
    }
    Py_RETURN_TRUE;
}

/* ------------------------------------------------------------------------------------------
 * encode_turn(resets, messages, seqnums) -> bytes | None
 *
 * The record ``<u32 payload length><u32 crc32(payload)><payload>`` whose payload holds, in
 * this order, ``R`` entries (struct "<cH" + key), ``M`` entries ("<cHQI" + key + raw) and
 * ``S`` entries ("<cHQQd" + key), keys in UTF-8, little-endian: exactly what
 * store_journal.encode_turn packs. Anything it would not pack the same way (not lists of
 * the expected tuples, a negative or huge number, a key that is not UTF-8 encodable or over
 * 65,535 bytes) gives None, and the Python encoder then does what it always did. */

static uint32_t crc_table[256];

static void
init_crc_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
}

static uint32_t
crc32_of(const unsigned char *p, Py_ssize_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static inline unsigned char *
put_le(unsigned char *out, unsigned long long value, int bytes)
{
    for (int i = 0; i < bytes; i++)
        out[i] = (unsigned char)(value >> (8 * i));
    return out + bytes;
}

/* the UTF-8 of a str key (cached in the str) and its length, or NULL (errors cleared) */
static const char *
key_utf8(PyObject *key, Py_ssize_t *length)
{
    if (!PyUnicode_CheckExact(key))
        return NULL;
    const char *text = PyUnicode_AsUTF8AndSize(key, length);
    if (text == NULL) {
        PyErr_Clear();
        return NULL;
    }
    return *length <= 0xFFFF ? text : NULL;
}

static int
unsigned_64(PyObject *number, unsigned long long *value)
{
    if (!PyLong_CheckExact(number))
        return 0;
    *value = PyLong_AsUnsignedLongLong(number);
    if (*value == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

static PyObject *
encode_turn(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "encode_turn(resets, messages, seqnums)");
        return NULL;
    }
    PyObject *resets = args[0], *messages = args[1], *seqnums = args[2];
    if (!PyList_CheckExact(resets) || !PyList_CheckExact(messages) || !PyList_CheckExact(seqnums))
        Py_RETURN_NONE;
    Py_ssize_t n_resets = PyList_GET_SIZE(resets), n_messages = PyList_GET_SIZE(messages),
               n_seqnums = PyList_GET_SIZE(seqnums);
    /* first pass: check every entry and measure the payload */
    Py_ssize_t payload = 0, klen;
    unsigned long long number;
    for (Py_ssize_t i = 0; i < n_resets; i++) {
        if (key_utf8(PyList_GET_ITEM(resets, i), &klen) == NULL)
            Py_RETURN_NONE;
        payload += 3 + klen;
    }
    for (Py_ssize_t i = 0; i < n_messages; i++) {
        PyObject *m = PyList_GET_ITEM(messages, i);
        if (!PyTuple_CheckExact(m) || PyTuple_GET_SIZE(m) != 3
                || key_utf8(PyTuple_GET_ITEM(m, 0), &klen) == NULL
                || !unsigned_64(PyTuple_GET_ITEM(m, 1), &number)
                || !PyBytes_CheckExact(PyTuple_GET_ITEM(m, 2))
                || (unsigned long long)PyBytes_GET_SIZE(PyTuple_GET_ITEM(m, 2)) > 0xFFFFFFFFull)
            Py_RETURN_NONE;
        payload += 15 + klen + PyBytes_GET_SIZE(PyTuple_GET_ITEM(m, 2));
    }
    for (Py_ssize_t i = 0; i < n_seqnums; i++) {
        PyObject *s = PyList_GET_ITEM(seqnums, i);
        if (!PyTuple_CheckExact(s) || PyTuple_GET_SIZE(s) != 4
                || key_utf8(PyTuple_GET_ITEM(s, 0), &klen) == NULL
                || !unsigned_64(PyTuple_GET_ITEM(s, 1), &number)
                || !unsigned_64(PyTuple_GET_ITEM(s, 2), &number)
                || !PyFloat_CheckExact(PyTuple_GET_ITEM(s, 3)))
            Py_RETURN_NONE;
        payload += 27 + klen;
    }
    if ((unsigned long long)payload > 0xFFFFFFFFull)
        Py_RETURN_NONE;
    PyObject *record = PyBytes_FromStringAndSize(NULL, 8 + payload);
    if (record == NULL)
        return NULL;
    unsigned char *start = (unsigned char *)PyBytes_AS_STRING(record) + 8, *out = start;
    const char *key;
    for (Py_ssize_t i = 0; i < n_resets; i++) {
        key = key_utf8(PyList_GET_ITEM(resets, i), &klen);
        *out++ = 'R';
        out = put_le(out, (unsigned long long)klen, 2);
        memcpy(out, key, (size_t)klen);
        out += klen;
    }
    for (Py_ssize_t i = 0; i < n_messages; i++) {
        PyObject *m = PyList_GET_ITEM(messages, i), *raw = PyTuple_GET_ITEM(m, 2);
        key = key_utf8(PyTuple_GET_ITEM(m, 0), &klen);
        unsigned_64(PyTuple_GET_ITEM(m, 1), &number);
        *out++ = 'M';
        out = put_le(out, (unsigned long long)klen, 2);
        out = put_le(out, number, 8);
        out = put_le(out, (unsigned long long)PyBytes_GET_SIZE(raw), 4);
        memcpy(out, key, (size_t)klen);
        out += klen;
        memcpy(out, PyBytes_AS_STRING(raw), (size_t)PyBytes_GET_SIZE(raw));
        out += PyBytes_GET_SIZE(raw);
    }
    for (Py_ssize_t i = 0; i < n_seqnums; i++) {
        PyObject *s = PyList_GET_ITEM(seqnums, i);
        key = key_utf8(PyTuple_GET_ITEM(s, 0), &klen);
        *out++ = 'S';
        out = put_le(out, (unsigned long long)klen, 2);
        unsigned_64(PyTuple_GET_ITEM(s, 1), &number);
        out = put_le(out, number, 8);
        unsigned_64(PyTuple_GET_ITEM(s, 2), &number);
        out = put_le(out, number, 8);
        if (PyFloat_Pack8(PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(s, 3)), (char *)out, 1) < 0) {
            Py_DECREF(record);
            return NULL;
        }
        out += 8;
        memcpy(out, key, (size_t)klen);
        out += klen;
    }
    unsigned char *head = (unsigned char *)PyBytes_AS_STRING(record);
    head = put_le(head, (unsigned long long)payload, 4);
    put_le(head, crc32_of(start, payload), 4);
    return record;
}

/* ------------------------------------------------------------------------------------------
 * frame_tail(begin_string, head, tail) -> bytes | None
 *
 * b"8=" + begin_string + SOH "9=" + str(len(head) + len(tail)) + SOH + head + tail, then
 * "10=" + the three-digit byte sum modulo 256 + SOH: codec.frame_tail's bytes. None when it
 * is not exactly that case (not str, str, bytes; a character of head or BeginString beyond
 * latin-1), and codec.frame_tail then raises what it always raised. */

static PyObject *
frame_tail(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "frame_tail(begin_string, head, tail)");
        return NULL;
    }
    PyObject *begin = args[0], *head = args[1], *tail = args[2];
    if (!PyUnicode_CheckExact(begin) || !PyUnicode_CheckExact(head) || !PyBytes_CheckExact(tail)
            || PyUnicode_KIND(begin) != PyUnicode_1BYTE_KIND
            || PyUnicode_KIND(head) != PyUnicode_1BYTE_KIND)
        Py_RETURN_NONE;
    Py_ssize_t nb = PyUnicode_GET_LENGTH(begin), nh = PyUnicode_GET_LENGTH(head),
               nt = PyBytes_GET_SIZE(tail);
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%zd", nh + nt);
    if (nd <= 0 || nd >= (int)sizeof digits)
        Py_RETURN_NONE;
    Py_ssize_t size = 2 + nb + 3 + nd + 1 + nh + nt + 7;
    PyObject *out = PyBytes_FromStringAndSize(NULL, size);
    if (out == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(out), *start = p;
    *p++ = '8'; *p++ = '=';
    memcpy(p, PyUnicode_1BYTE_DATA(begin), (size_t)nb); p += nb;
    *p++ = SOH; *p++ = '9'; *p++ = '=';
    memcpy(p, digits, (size_t)nd); p += nd;
    *p++ = SOH;
    memcpy(p, PyUnicode_1BYTE_DATA(head), (size_t)nh); p += nh;
    memcpy(p, PyBytes_AS_STRING(tail), (size_t)nt); p += nt;
    unsigned int sum = 0;
    for (unsigned char *q = start; q < p; q++)
        sum += *q;
    sum &= 255;
    *p++ = '1'; *p++ = '0'; *p++ = '=';
    *p++ = (unsigned char)('0' + sum / 100);
    *p++ = (unsigned char)('0' + (sum / 10) % 10);
    *p++ = (unsigned char)('0' + sum % 10);
    *p++ = SOH;
    return out;
}

static PyMethodDef methods[] = {
    {"frame_tail", (PyCFunction)(void (*)(void))frame_tail, METH_FASTCALL,
     "frame_tail(begin_string, head, tail) -> the framed message, or None"},
    {"encode_turn", (PyCFunction)(void (*)(void))encode_turn, METH_FASTCALL,
     "encode_turn(resets, messages, seqnums) -> the journal record, or None"},
    {"split_canonical", (PyCFunction)(void (*)(void))split_canonical, METH_FASTCALL,
     "split_canonical(raw, checksum_at, shapes) -> (fields, shape) or None"},
    {"values_pass", (PyCFunction)(void (*)(void))values_pass, METH_FASTCALL,
     "values_pass(fields, plan) -> bool, as Validator.values_pass"},
    {"configure_values", (PyCFunction)(void (*)(void))configure_values, METH_FASTCALL,
     "configure_values(is_int, is_float, is_timestamp, seconds_ok): values_pass's fallbacks"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "fixgw.fix._speedups",
    "The session hot path's busiest pure functions in C (fixgw/fix/accel.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    init_crc_table();
    return PyModule_Create(&module);
}

/* SPDX-License-Identifier: MIT */
/* test_proto_bin.c - ttf.bin.v2 frames: encoding, strict decoding of every malformed shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "proto_bin.h"

static void test_header(void **state)
{
    (void)state;
    uint8_t h[TTF_BIN_HDR];
    ttf_frame_header(h, TTF_DATA, TTF_FLAG_FIN, 0x01020304u);
    assert_memory_equal(h, "\x02\x01\x01\x02\x03\x04", 6);
    ttf_frame_header(h, TTF_OPEN, 0, 0xffffffffu);
    assert_memory_equal(h, "\x01\x00\xff\xff\xff\xff", 6);
}

static void test_window(void **state)
{
    (void)state;
    uint8_t w[10];
    assert_int_equal(ttf_frame_window(w, 7, 0x00040000u), 10);
    assert_memory_equal(w, "\x04\x00\x00\x00\x00\x07\x00\x04\x00\x00", 10);
    ttf_frame f;
    assert_int_equal(ttf_frame_decode(w, 10, &f), 0);
    assert_int_equal(f.type, TTF_WINDOW);
    assert_int_equal(f.stream_id, 7);
    assert_int_equal(f.window, 0x40000);
    assert_int_equal(f.len, 4);
}

static void test_reset(void **state)
{
    (void)state;
    uint8_t buf[300];
    size_t n = ttf_frame_reset(buf, sizeof buf, 9, TTF_RST_LOCAL_UNAVAILABLE, "connection refused");
    assert_int_equal(n, 7 + 18);
    ttf_frame f;
    assert_int_equal(ttf_frame_decode(buf, n, &f), 0);
    assert_int_equal(f.type, TTF_RESET);
    assert_int_equal(f.stream_id, 9);
    assert_int_equal(f.reset_code, TTF_RST_LOCAL_UNAVAILABLE);
    assert_int_equal(f.len, 19);
    assert_memory_equal(f.payload + 1, "connection refused", 18);
    /* reason capped at 200 bytes, and at the buffer */
    char longr[400];
    memset(longr, 'r', sizeof longr - 1);
    longr[sizeof longr - 1] = '\0';
    assert_int_equal(ttf_frame_reset(buf, sizeof buf, 9, 1, longr), 7 + 200);
    assert_int_equal(ttf_frame_reset(buf, 20, 9, 1, longr), 20);
    assert_int_equal(ttf_frame_reset(buf, 7, 9, 1, longr), 7);
    assert_int_equal(ttf_frame_reset(buf, 6, 9, 1, longr), 0);
    assert_int_equal(ttf_frame_reset(buf, sizeof buf, 9, TTF_RST_CANCEL, NULL), 7);
    assert_int_equal(ttf_frame_decode(buf, 7, &f), 0);
    assert_int_equal(f.reset_code, TTF_RST_CANCEL);
    n = ttf_frame_reset(buf, sizeof buf, 5, TTF_RST_PROTOCOL_ERROR, "overrun");
    assert_memory_equal(buf, "\x05\x00\x00\x00\x00\x05\x06overrun", 14);
    assert_int_equal(ttf_frame_decode(buf, n, &f), 0);
    assert_int_equal(f.reset_code, TTF_RST_PROTOCOL_ERROR);
}

static void test_decode_open_data_response(void **state)
{
    (void)state;
    static const char head[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    uint8_t buf[128];
    /* OPEN: header, tunnel index, head */
    ttf_frame_open_header(buf, TTF_FLAG_FIN, 1, 0);
    assert_memory_equal(buf, "\x01\x01\x00\x00\x00\x01\x00", 7);
    memcpy(buf + 7, head, sizeof head - 1);
    ttf_frame f;
    assert_int_equal(ttf_frame_decode(buf, 7 + sizeof head - 1, &f), 0);
    assert_int_equal(f.type, TTF_OPEN);
    assert_int_equal(f.flags, TTF_FLAG_FIN);
    assert_int_equal(f.stream_id, 1);
    assert_int_equal(f.tunnel, 0);
    assert_int_equal(f.len, sizeof head - 1);
    assert_ptr_equal(f.payload, buf + 7);
    /* every tunnel index survives */
    for (unsigned t = 0; t < 256; t++) {
        ttf_frame_open_header(buf, 0, 0x80000001u, (uint8_t)t);
        assert_int_equal(ttf_frame_decode(buf, 7 + sizeof head - 1, &f), 0);
        assert_int_equal(f.tunnel, t);
        assert_int_equal(f.stream_id, 0x80000001u);
        assert_int_equal(f.flags, 0);
    }

    /* empty DATA with FIN ends a direction */
    ttf_frame_header(buf, TTF_DATA, TTF_FLAG_FIN, 2);
    assert_int_equal(ttf_frame_decode(buf, 6, &f), 0);
    assert_int_equal(f.len, 0);
    /* interim and final RESPONSE heads; FIN on a final head = no body */
    ttf_frame_header(buf, TTF_RESPONSE, 0, 2);
    memcpy(buf + 6, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", 45);
    assert_int_equal(ttf_frame_decode(buf, 51, &f), 0);
    assert_int_equal(f.type, TTF_RESPONSE);
    assert_int_equal(f.len, 45);
    ttf_frame_header(buf, TTF_RESPONSE, TTF_FLAG_FIN, 2);
    memcpy(buf + 6, "HTTP/1.1 204 No Content\r\n\r\n", 27);
    assert_int_equal(ttf_frame_decode(buf, 33, &f), 0);
    assert_int_equal(f.flags, TTF_FLAG_FIN);
}

static void test_trailers(void **state)
{
    (void)state;
    uint8_t buf[128];
    static const char tr[] = "Checksum: abc\r\nX-T: 1\r\n\r\n";
    ttf_frame_header(buf, TTF_TRAILERS, TTF_FLAG_FIN, 3);
    memcpy(buf + 6, tr, sizeof tr - 1);
    ttf_frame f;
    assert_int_equal(ttf_frame_decode(buf, 6 + sizeof tr - 1, &f), 0);
    assert_int_equal(f.type, TTF_TRAILERS);
    assert_int_equal(f.flags, TTF_FLAG_FIN);
    assert_int_equal(f.len, sizeof tr - 1);
    assert_memory_equal(f.payload, tr, sizeof tr - 1);
    /* an empty trailer section is the final CRLF alone */
    memcpy(buf + 6, "\r\n", 2);
    assert_int_equal(ttf_frame_decode(buf, 8, &f), 0);
    /* without FIN, empty, or not ending in CRLF: refused */
    ttf_frame_header(buf, TTF_TRAILERS, 0, 3);
    assert_int_equal(ttf_frame_decode(buf, 8, &f), -1);
    ttf_frame_header(buf, TTF_TRAILERS, TTF_FLAG_FIN, 3);
    assert_int_equal(ttf_frame_decode(buf, 6, &f), -1);
    assert_int_equal(ttf_frame_decode(buf, 7, &f), -1);
    memcpy(buf + 6, "X: 1\r\n\n", 7);
    assert_int_equal(ttf_frame_decode(buf, 13, &f), -1);
    memcpy(buf + 6, "X: 1\r\n\r", 7);
    assert_int_equal(ttf_frame_decode(buf, 13, &f), -1);
}

static void test_data_max(void **state)
{
    (void)state;
    size_t n = TTF_BIN_HDR + TTF_BIN_MAX_DATA + 1;
    uint8_t *buf = calloc(1, n);
    ttf_frame_header(buf, TTF_DATA, 0, 3);
    ttf_frame f;
    assert_int_equal(ttf_frame_decode(buf, n - 1, &f), 0);
    assert_int_equal(f.len, TTF_BIN_MAX_DATA);
    assert_int_equal(ttf_frame_decode(buf, n, &f), -1);
    free(buf);
}

static void test_decode_malformed(void **state)
{
    (void)state;
    ttf_frame f;
    static const struct {
        const char *b;
        size_t n;
    } bad[] = {
        {"", 0},
        {"\x02\x00\x00\x00\x01", 5},                             /* short header */
        {"\x00\x00\x00\x00\x00\x01", 6},                         /* type 0 */
        {"\x07\x00\x00\x00\x00\x01\r\n", 8},                     /* type 7 */
        {"\x06\x00\x00\x00\x00\x01\r\n", 8},                     /* TRAILERS without FIN */
        {"\xff\x00\x00\x00\x00\x01x", 7},                        /* type 255 */
        {"\x02\x00\x00\x00\x00\x00x", 7},                        /* stream 0 */
        {"\x02\x04\x00\x00\x00\x01x", 7},                        /* unknown flag */
        {"\x02\x02\x00\x00\x00\x01x", 7},                        /* v1's CLOSE on DATA */
        {"\x02\x03\x00\x00\x00\x01x", 7},                        /* v1's FIN|CLOSE */
        {"\x03\x02\x00\x00\x00\x01HTTP/1.1 200 OK\r\n\r\n", 25}, /* CLOSE on RESPONSE */
        {"\x06\x03\x00\x00\x00\x01\r\n", 8},                     /* CLOSE on TRAILERS */
        {"\x02\x80\x00\x00\x00\x01x", 7},                        /* unknown flag */
        {"\x01\x02\x00\x00\x00\x01\x00GET", 10},                 /* CLOSE on OPEN */
        {"\x01\x00\x00\x00\x00\x01", 6},                         /* empty OPEN */
        {"\x01\x00\x00\x00\x00\x01\x00", 7},                     /* OPEN: index, no head */
        {"\x03\x01\x00\x00\x00\x01", 6},                         /* empty RESPONSE */
        {"\x04\x00\x00\x00\x00\x01\x00\x00\x00", 9},             /* WINDOW 3 bytes */
        {"\x04\x00\x00\x00\x00\x01\x00\x00\x00\x01\x00", 11},    /* WINDOW 5 bytes */
        {"\x04\x00\x00\x00\x00\x01\x00\x00\x00\x00", 10},        /* WINDOW 0 */
        {"\x04\x01\x00\x00\x00\x01\x00\x00\x00\x01", 10},        /* WINDOW with FIN */
        {"\x05\x00\x00\x00\x00\x01", 6},                         /* RESET without code */
        {"\x05\x01\x00\x00\x00\x01\x01", 7},                     /* RESET with FIN */
        {"\x05\x00\x00\x00\x00\x00\x01", 7},                     /* RESET stream 0 */
        {"\x06\x01\x00\x00\x00\x00\r\n", 8},                     /* TRAILERS stream 0 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ttf_frame_decode((const uint8_t *)bad[i].b, bad[i].n, &f) != -1)
            fail_msg("case %zu decoded", i);
    }
    assert_int_equal(ttf_frame_decode(NULL, 10, &f), -1);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(ttf_reset_name(TTF_RST_INVALID_REQUEST), "invalid_request");
    assert_string_equal(ttf_reset_name(TTF_RST_TIMEOUT), "timeout");
    assert_string_equal(ttf_reset_name(TTF_RST_LOCAL_UNAVAILABLE), "local_service_unavailable");
    assert_string_equal(ttf_reset_name(TTF_RST_INTERNAL), "internal_error");
    assert_string_equal(ttf_reset_name(TTF_RST_CANCEL), "cancel");
    assert_string_equal(ttf_reset_name(TTF_RST_PROTOCOL_ERROR), "protocol_error");
    assert_string_equal(ttf_reset_name(77), "unknown");
    assert_int_equal(ttf_reset_status(TTF_RST_INVALID_REQUEST), 400);
    assert_int_equal(ttf_reset_status(TTF_RST_TIMEOUT), 504);
    assert_int_equal(ttf_reset_status(TTF_RST_LOCAL_UNAVAILABLE), 502);
    assert_int_equal(ttf_reset_status(TTF_RST_INTERNAL), 502);
    assert_int_equal(ttf_reset_status(TTF_RST_CANCEL), 502);
    assert_int_equal(ttf_reset_status(TTF_RST_PROTOCOL_ERROR), 502);
    assert_string_equal(TTF_SUBPROTO_BIN, "ttf.bin.v2");
    assert_int_equal(ttf_reset_status(0), 502);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header),   cmocka_unit_test(test_window),
        cmocka_unit_test(test_reset),    cmocka_unit_test(test_decode_open_data_response),
        cmocka_unit_test(test_data_max), cmocka_unit_test(test_decode_malformed),
        cmocka_unit_test(test_names),    cmocka_unit_test(test_trailers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* b64.c - base64 on top of OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock (see b64.h).
 * OpenSSL is lenient (skips whitespace, counts padding as output bytes), so the strictness
 * rules are checked here first and the padding is subtracted from its result. */
#include "b64.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <string.h>

/* Work in blocks so sizes always fit OpenSSL's int parameters. */
#define ENC_BLOCK_IN ((size_t)3 * 4096) /* bytes in -> 16384 chars out */
#define DEC_BLOCK_IN ((size_t)1 << 30)  /* chars in -> 3/4 of that out (fits an int) */
#define URL_BLOCK_IN ((size_t)4 * 1024) /* base64url: chars translated per step */

size_t b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t b64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}

size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0;
    while (n > 0) {
        size_t take = n < ENC_BLOCK_IN ? n : ENC_BLOCK_IN;
        o += (size_t)EVP_EncodeBlock((unsigned char *)out + o, in, (int)take);
        in += take;
        n -= take;
    }
    out[o] = '\0';
    return o;
}

static bool is_std_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* Decodes n chars (a multiple of 4, the padding rules checked) block by block. OpenSSL refuses
 * any character outside the alphabet in the middle of a block (whitespace too) but skips
 * whitespace at a block's start and end: the first and last character of every block must be
 * in the alphabet (or the padding, at the very end). */
static int decode_blocks(const char *in, size_t n, uint8_t *out, size_t *outlen, size_t block)
{
    size_t o = 0;
    while (n > 0) {
        size_t take = n < block ? n : block;
        bool last = take == n;
        if (!is_std_char((unsigned char)in[0]) ||
            !(is_std_char((unsigned char)in[take - 1]) || (last && in[take - 1] == '=')))
            return -1;
        int r = EVP_DecodeBlock(out + o, (const unsigned char *)in, (int)take);
        if (r < 0)
            return -1;
        size_t got = (size_t)r;
        if (last) { /* the last block: padding decodes as zero bytes, drop them */
            if (take >= 1 && in[take - 1] == '=')
                got--;
            if (take >= 2 && in[take - 2] == '=')
                got--;
        }
        o += got;
        in += take;
        n -= take;
    }
    *outlen = o;
    return 0;
}

int b64_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
    if (n == 0) {
        *outlen = 0;
        return 0;
    }
    if (!in || n % 4 != 0)
        return -1;
    /* '=' only as the last one or two characters: one memchr instead of a loop per character */
    size_t pad = in[n - 1] != '=' ? 0 : in[n - 2] == '=' ? 2 : 1;
    if (memchr(in, '=', n - pad) != NULL)
        return -1;
    return decode_blocks(in, n, out, outlen, DEC_BLOCK_IN);
}

int b64url_decode(const char *in, size_t n, uint8_t *out, size_t *outlen)
{
    if (n == 0) {
        *outlen = 0;
        return 0;
    }
    if (!in)
        return -1;
    /* Padding is optional; when present it must be correct. */
    size_t data = n;
    while (data > 0 && in[data - 1] == '=')
        data--;
    if (data != n && (n % 4 != 0 || n - data > 2))
        return -1;
    if (data % 4 == 1)
        return -1; /* one leftover char cannot encode a byte */

    char buf[URL_BLOCK_IN];
    size_t o = 0, i = 0;
    while (i < data) {
        size_t take = data - i < URL_BLOCK_IN ? data - i : URL_BLOCK_IN;
        for (size_t k = 0; k < take; k++) {
            unsigned char c = (unsigned char)in[i + k];
            if (c == '-')
                c = '+';
            else if (c == '_')
                c = '/';
            else if (c == '+' || c == '/' || !is_std_char(c))
                return -1;
            buf[k] = (char)c;
        }
        size_t len = take;
        while (len % 4 != 0) /* only the last block can be short; URL_BLOCK_IN is 4-aligned */
            buf[len++] = '=';
        size_t got = 0;
        if (decode_blocks(buf, len, out + o, &got, URL_BLOCK_IN) != 0)
            return -1;
        o += got;
        i += take;
    }
    *outlen = o;
    return 0;
}

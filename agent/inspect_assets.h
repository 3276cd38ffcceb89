/* SPDX-License-Identifier: MIT */
/* inspect_assets.h - the inspector's page (HTML, JS, CSS from agent/inspect/), compiled into ttf
 * by agent/inspect/embed.cmake so the page needs no files at run time and no CDN.
 * Owns: static, read-only data. */
#ifndef TTF_INSPECT_ASSETS_H
#define TTF_INSPECT_ASSETS_H

#include <stddef.h>

typedef struct inspect_asset {
    const char *path;         /* "/index.html", "/app.js", ... */
    const char *content_type; /* with charset for text */
    const unsigned char *data;
    size_t len;
} inspect_asset;

/* The asset served at path ("/" is "/index.html"); NULL when none. */
const inspect_asset *inspect_asset_find(const char *path);

#endif

/* SPDX-License-Identifier: MIT */
/* flow_window.c - a stream direction's window (see flow_window.h). */
#include "flow_window.h"

bool flow_window_spend(flow_window *w, size_t n)
{
    w->left -= (int64_t)n;
    if (w->left < 0)
        return false;
    w->unacked += n;
    return true;
}

size_t flow_window_grow(flow_window *w, size_t n)
{
    w->left += (int64_t)n;
    return n;
}

size_t flow_window_credit_written(flow_window *w, size_t backlog, size_t min)
{
    size_t held = backlog > FLOW_CREDIT_MARK ? backlog - FLOW_CREDIT_MARK : 0;
    size_t n = w->unacked > held ? w->unacked - held : 0;
    if (n == 0 || n < min)
        return 0;
    w->left += (int64_t)n;
    w->unacked -= n;
    return n;
}

size_t flow_window_credit(flow_window *w, size_t backlog, size_t min)
{
    /* at most the mark held: all that was handed on is credited, as by the rule above */
    return backlog > FLOW_CREDIT_MARK ? 0 : flow_window_credit_written(w, backlog, min);
}

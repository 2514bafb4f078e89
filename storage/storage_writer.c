/*
 * The upload sink behind storage_put_stream: fills part-size buffers, sends an object that fits
 * in one part as a single request, otherwise starts a multipart upload and hands full parts to
 * worker threads. Memory is bounded by part size x (parallelism + 1) whatever the object size.
 * A part is only sent once the next byte arrives, so the final part is always known as such.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk_log.h"
#include "storage_internal.h"

struct part_job {
    uint8_t *data;
    size_t len;
    unsigned part_no;
};

enum writer_state { WRITER_OPEN, WRITER_DONE, WRITER_ABORTED };

struct put_writer {
    struct bk_sink base;
    struct storage *st;
    char *key;                    /* full object name */
    char *content_type;
    struct storage_put_opts opts;
    size_t part_size;
    unsigned workers_n;           /* 0 = parts are sent inline, in order */

    uint8_t *cur;
    size_t cur_len;
    unsigned next_part_no;
    struct storage_upload *up;

    pthread_mutex_t mu;
    pthread_cond_t cv_job;
    pthread_cond_t cv_done;
    uint8_t **free_bufs;
    size_t free_len;
    size_t bufs_allocated;
    size_t bufs_max;
    struct part_job *queue;       /* ring of bufs_max entries */
    size_t q_head;
    size_t q_len;
    unsigned in_flight;
    pthread_t *threads;
    unsigned threads_started;
    bool stopping;
    int fail_rc;
    struct bk_error fail_err;
    enum writer_state state;
};

static void record_failure(struct put_writer *w, int rc, const struct bk_error *err)
{
    if (w->fail_rc == BK_OK) {
        w->fail_rc = rc;
        w->fail_err = *err;
    }
}

static void *part_worker(void *arg)
{
    struct put_writer *w = arg;
    for (;;) {
        struct part_job job;
        struct bk_error err = BK_ERROR_INIT;
        int rc = BK_OK;
        bool skip;
        pthread_mutex_lock(&w->mu);
        while (!w->stopping && w->q_len == 0)
            pthread_cond_wait(&w->cv_job, &w->mu);
        if (w->q_len == 0) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        job = w->queue[w->q_head];
        w->q_head = (w->q_head + 1) % w->bufs_max;
        w->q_len--;
        skip = w->fail_rc != BK_OK;
        pthread_mutex_unlock(&w->mu);

        if (!skip)
            rc = w->st->ops->upload_part(w->up, job.part_no, job.data, job.len, false, &err);

        pthread_mutex_lock(&w->mu);
        if (rc != BK_OK)
            record_failure(w, rc, &err);
        w->free_bufs[w->free_len++] = job.data;
        w->in_flight--;
        pthread_cond_broadcast(&w->cv_done);
        pthread_mutex_unlock(&w->mu);
    }
}

static void stop_workers(struct put_writer *w)
{
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv_job);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < w->threads_started; i++)
        pthread_join(w->threads[i], NULL);
    w->threads_started = 0;
}

/* Returns a free part buffer, allocating up to bufs_max, else waiting for a worker. */
static int take_buffer(struct put_writer *w, uint8_t **out, struct bk_error *err)
{
    int rc = BK_OK;
    pthread_mutex_lock(&w->mu);
    while (w->free_len == 0 && w->bufs_allocated >= w->bufs_max && w->fail_rc == BK_OK)
        pthread_cond_wait(&w->cv_done, &w->mu);
    if (w->fail_rc != BK_OK) {
        *err = w->fail_err;
        rc = w->fail_rc;
    } else if (w->free_len > 0) {
        *out = w->free_bufs[--w->free_len];
    } else {
        *out = malloc(w->part_size);
        if (*out == NULL)
            rc = bk_error_set(err, BK_ENOMEM, "storage_put", w->key, "cannot allocate a %zu-byte part buffer", w->part_size);
        else
            w->bufs_allocated++;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int start_upload(struct put_writer *w, struct bk_error *err)
{
    int rc = w->st->ops->upload_begin(w->st->drv, w->key, &w->opts, &w->up, err);
    if (rc != BK_OK)
        return rc;
    if (w->workers_n == 0)
        return BK_OK;
    w->threads = calloc(w->workers_n, sizeof(*w->threads));
    if (w->threads == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_put", w->key, "out of memory");
    for (unsigned i = 0; i < w->workers_n; i++) {
        if (pthread_create(&w->threads[i], NULL, part_worker, w) != 0)
            return bk_error_set(err, BK_EINTERNAL, "storage_put", w->key, "cannot start an upload thread");
        w->threads_started++;
    }
    return BK_OK;
}

/* Sends the full current buffer as a middle part. */
static int dispatch_part(struct put_writer *w, struct bk_error *err)
{
    int rc;
    unsigned part_no = ++w->next_part_no;
    if (w->up == NULL && (rc = start_upload(w, err)) != BK_OK)
        return rc;
    if (w->workers_n == 0) {
        rc = w->st->ops->upload_part(w->up, part_no, w->cur, w->cur_len, false, err);
        w->cur_len = 0;
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    if (w->fail_rc != BK_OK) {
        *err = w->fail_err;
        rc = w->fail_rc;
        pthread_mutex_unlock(&w->mu);
        return rc;
    }
    w->queue[(w->q_head + w->q_len) % w->bufs_max] = (struct part_job){ w->cur, w->cur_len, part_no };
    w->q_len++;
    w->in_flight++;
    pthread_cond_signal(&w->cv_job);
    pthread_mutex_unlock(&w->mu);
    w->cur = NULL;
    w->cur_len = 0;
    return take_buffer(w, &w->cur, err);
}

static int writer_write(struct bk_sink *sink, const void *data, size_t len, struct bk_error *err)
{
    struct put_writer *w = (struct put_writer *)sink;
    const uint8_t *p = data;
    if (w->state != WRITER_OPEN)
        return bk_error_set(err, BK_EINTERNAL, "storage_put", w->key, "write after the upload ended");
    while (len > 0) {
        size_t room;
        int rc;
        if (w->cur_len == w->part_size) {
            if ((rc = dispatch_part(w, err)) != BK_OK)
                return rc;
        }
        room = w->part_size - w->cur_len;
        if (room > len)
            room = len;
        memcpy(w->cur + w->cur_len, p, room);
        w->cur_len += room;
        p += room;
        len -= room;
    }
    return BK_OK;
}

static int writer_finish(struct bk_sink *sink, struct bk_error *err)
{
    struct put_writer *w = (struct put_writer *)sink;
    int rc;
    if (w->state != WRITER_OPEN)
        return bk_error_set(err, BK_EINTERNAL, "storage_put", w->key, "upload already ended");
    if (w->up == NULL) {
        rc = w->st->ops->put_single(w->st->drv, w->key, w->cur, w->cur_len, &w->opts, err);
        if (rc == BK_OK)
            w->state = WRITER_DONE;
        return rc;
    }
    pthread_mutex_lock(&w->mu);
    while (w->in_flight > 0)
        pthread_cond_wait(&w->cv_done, &w->mu);
    rc = w->fail_rc;
    if (rc != BK_OK)
        *err = w->fail_err;
    pthread_mutex_unlock(&w->mu);
    if (rc != BK_OK)
        return rc;
    rc = w->st->ops->upload_part(w->up, ++w->next_part_no, w->cur, w->cur_len, true, err);
    if (rc != BK_OK)
        return rc;
    rc = w->st->ops->upload_complete(w->up, err);
    if (rc != BK_OK)
        return rc;
    w->up = NULL;   /* freed by complete */
    w->state = WRITER_DONE;
    stop_workers(w);
    bk_log_debug("storage_put", "uploaded \"%s\" in %u parts", w->key, w->next_part_no);
    return BK_OK;
}

static void writer_abort(struct bk_sink *sink)
{
    struct put_writer *w = (struct put_writer *)sink;
    if (w->state != WRITER_OPEN)
        return;
    stop_workers(w);
    if (w->up != NULL) {
        w->st->ops->upload_abort(w->up);
        w->up = NULL;
    }
    w->state = WRITER_ABORTED;
}

static void writer_free(struct bk_sink *sink)
{
    struct put_writer *w = (struct put_writer *)sink;
    writer_abort(sink);
    stop_workers(w);
    for (size_t i = 0; i < w->free_len; i++)
        free(w->free_bufs[i]);
    free(w->cur);
    free(w->free_bufs);
    free(w->queue);
    free(w->threads);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv_job);
    pthread_cond_destroy(&w->cv_done);
    free(w->content_type);
    free(w->key);
    free(w);
}

static const struct bk_sink_ops writer_ops = {
    "storage-upload", writer_write, writer_finish, writer_abort, writer_free
};

int storage_put_stream(struct bk_sink **out, struct storage *st, const char *key,
                       const struct storage_put_opts *opts, struct bk_error *err)
{
    struct put_writer *w;
    int rc = storage_key_check(key, err);
    if (rc != BK_OK)
        return rc;
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return bk_error_set(err, BK_ENOMEM, "storage_put", key, "out of memory");
    w->base.ops = &writer_ops;
    w->st = st;
    w->part_size = st->part_size;
    w->workers_n = (st->ops->features & STORAGE_FEAT_PARALLEL_PARTS) && st->parallelism > 1 ? st->parallelism : 0;
    w->bufs_max = w->workers_n + 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv_job, NULL);
    pthread_cond_init(&w->cv_done, NULL);
    if (opts != NULL && opts->content_type != NULL && (w->content_type = strdup(opts->content_type)) == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "storage_put", key, "out of memory");
        goto fail;
    }
    w->opts.content_type = w->content_type;
    if ((rc = storage_key_join(&w->key, st, key, err)) != BK_OK)
        goto fail;
    w->free_bufs = calloc(w->bufs_max, sizeof(*w->free_bufs));
    w->queue = calloc(w->bufs_max, sizeof(*w->queue));
    if (w->free_bufs == NULL || w->queue == NULL) {
        rc = bk_error_set(err, BK_ENOMEM, "storage_put", key, "out of memory");
        goto fail;
    }
    if ((rc = take_buffer(w, &w->cur, err)) != BK_OK)
        goto fail;
    *out = &w->base;
    return BK_OK;
fail:
    w->state = WRITER_ABORTED;
    writer_free(&w->base);
    return rc;
}

int storage_put_buf(struct storage *st, const char *key, const void *data, size_t len,
                    const struct storage_put_opts *opts, struct bk_error *err)
{
    struct bk_sink *sink = NULL;
    int rc = storage_put_stream(&sink, st, key, opts, err);
    if (rc != BK_OK)
        return rc;
    rc = bk_sink_write(sink, data, len, err);
    if (rc == BK_OK)
        rc = bk_sink_finish(sink, err);
    if (rc != BK_OK)
        bk_sink_abort(sink);
    bk_sink_free(sink);
    return rc;
}

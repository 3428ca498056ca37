/* corio_rt_dump: every live task, what it waits on, and where (a walk of
 * the frame pointers on its suspended stack), as Go's goroutine dump.
 *
 * Only the thread that owns a tally may walk its list of tasks (tally.h),
 * so the dump posts a request to each worker's loop and to the loop
 * thread; each writes its own tasks into a memory stream, and the caller
 * prints them in order. A thread busy in a task that does not suspend
 * does not answer in time: the caller says so, and the request (counted,
 * freed by whichever side lets go last) runs whenever the thread gets to
 * it. Fields of other threads' tasks are read racily, through relaxed
 * atomics or as bytes that may be stale: this is a diagnostic. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "core/futex.h"
#include "core/thread.h"
#include "corio/rt.h"
#include "sched.h"
#include "wait.h"

#define ANSWER_NS 200000000u   /* how long a thread has to answer */
#define MAX_FRAMES 24

static void (*describers[CORIO__WK_COUNT])(const void *obj, char *buf, size_t len);


void corio__dump_describer(int kind, void (*fn)(const void *obj, char *buf, size_t len)) {
  if (kind > 0 && kind < CORIO__WK_COUNT)
    describers[kind] = fn;
}


int corio_task_set_name(corio_task_t *t, const char *name) {
  size_t n;

  if (t == NULL && (t = corio_self()) == NULL)
    return UV_EINVAL;
  n = name != NULL ? strnlen(name, CORIO_TASK_NAME_MAX - 1) : 0;
  if (n > 0)
    memcpy(t->name, name, n);
  t->name[n] = '\0';
  return 0;
}


const char *corio_task_name(corio_task_t *t) {
  if (t == NULL && (t = corio_self()) == NULL)
    return "";
  return t->name;
}


static const char *const kind_words[CORIO__WK_COUNT] = {
    [CORIO__WK_OTHER] = "a wait",
    [CORIO__WK_SLEEP] = "sleep",
    [CORIO__WK_JOIN] = "join of task",
    [CORIO__WK_GROUP] = "wait on group",
    [CORIO__WK_MUTEX] = "mutex lock of",
    [CORIO__WK_COND] = "condition wait on",
    [CORIO__WK_SEM] = "semaphore acquire on",
    [CORIO__WK_WG] = "wait group wait on",
    [CORIO__WK_CHAN_SEND] = "channel send on",
    [CORIO__WK_CHAN_RECV] = "channel receive on",
    [CORIO__WK_SELECT] = "select",
    [CORIO__WK_TCP_READ] = "read on a TCP connection",
    [CORIO__WK_TCP_WRITE] = "write on a TCP connection",
    [CORIO__WK_TCP_CONNECT] = "TCP connect",
    [CORIO__WK_TCP_ACCEPT] = "accept on a listener",
    [CORIO__WK_TCP_SERVE] = "serving a listener",
    [CORIO__WK_TCP_OTHER] = "a TCP socket's listen, close or adoption",
    [CORIO__WK_FS] = "file system call",
    [CORIO__WK_DNS] = "getaddrinfo",
    [CORIO__WK_WORK] = "work on the threadpool",
    [CORIO__WK_AWAIT] = "a libuv request (corio_await)",
    [CORIO__WK_SIGNAL] = "signal wait on watcher",
};


/* What t waits on, in words, into buf. */
static void describe_wait(corio_task_t *t, int kind, char *buf, size_t len) {
  const void *obj = (const void *)atomic_load_explicit(&t->wait_obj, memory_order_relaxed);
  uint64_t arg = atomic_load_explicit(&t->wait_arg, memory_order_relaxed);
  const char *words = kind > 0 && kind < CORIO__WK_COUNT && kind_words[kind] != NULL
                          ? kind_words[kind] : "a wait";
  char more[96] = "";

  if (kind > 0 && kind < CORIO__WK_COUNT && describers[kind] != NULL && obj != NULL)
    describers[kind](obj, more, sizeof more);
  switch (kind) {
  case CORIO__WK_SLEEP: {
    uint64_t now = uv_hrtime();
    snprintf(buf, len, "sleep, %+lld ms to go", arg > now ? (long long)((arg - now) / 1000000u)
                                                          : -(long long)((now - arg) / 1000000u));
    return;
  }
  case CORIO__WK_SELECT:
    snprintf(buf, len, "select over %llu case(s)", (unsigned long long)arg);
    return;
  case CORIO__WK_FS:
  case CORIO__WK_DNS:
    snprintf(buf, len, "%s (%s)", words, obj != NULL ? (const char *)obj : "-");
    return;
  case CORIO__WK_WORK:
  case CORIO__WK_TCP_CONNECT:
    snprintf(buf, len, "%s", words);
    return;
  case CORIO__WK_GROUP:
    snprintf(buf, len, "%s %p (%llu member(s) left)", words, obj, (unsigned long long)arg);
    return;
  default:
    snprintf(buf, len, "%s %p%s%s", words, obj, more[0] != '\0' ? " " : "", more);
  }
}


#if defined(__x86_64__) && !defined(CORIO_CTX_UCONTEXT)
/* Print the symbol of a code address, or its module and offset (for
 * addr2line), as dladdr knows it. */
static void print_frame(FILE *f, uintptr_t pc) {
  Dl_info info;

  if (dladdr((void *)pc, &info) != 0 && info.dli_sname != NULL)
    fprintf(f, "      %s+0x%lx\n", info.dli_sname,
            (unsigned long)(pc - (uintptr_t)info.dli_saddr));
  else if (info.dli_fname != NULL)
    fprintf(f, "      ? (%s+0x%lx)\n", info.dli_fname,
            (unsigned long)(pc - (uintptr_t)info.dli_fbase));
  else
    fprintf(f, "      0x%lx\n", (unsigned long)pc);
}
#endif


/* The call stack of a suspended task: the frame that called the switch
 * (saved on its stack by corio__ctx_switch), then the chain of frame
 * pointers, each checked to lie within the task's stack and to go up.
 * Everything is read through corio__peek: the task may end (and its stack be
 * reused) meanwhile, which garbles the answer but cannot crash the dump.
 * x86-64 with the assembly switch only. */
static void backtrace_suspended(FILE *f, corio_task_t *t) {
#if defined(__x86_64__) && !defined(CORIO_CTX_UCONTEXT)
  corio_coro_t *co = __atomic_load_n(&t->co, __ATOMIC_RELAXED), copy;
  uintptr_t lo, hi, sp, fp, pc, frame[8], link[2];
  int n;

  if (co == NULL || !corio__peek(co, &copy, sizeof copy))
    return;
  lo = (uintptr_t)corio__stack_lo(&copy.stack);
  hi = (uintptr_t)corio__stack_hi(&copy.stack);
  sp = (uintptr_t)copy.ctx.sp;
  /* corio__ctx_switch's frame: control words, r15..r12, rbx, rbp, the
   * return address (switch_x86_64_sysv.S). */
  if (sp < lo || sp + 64 > hi || !corio__peek((void *)sp, frame, sizeof frame))
    return;
  fp = frame[6];
  pc = frame[7];
  print_frame(f, pc);
  for (n = 1; n < MAX_FRAMES && fp >= sp && fp + 16 <= hi && (fp & 7) == 0; n++) {
    if (!corio__peek((void *)fp, link, sizeof link) || (pc = link[1]) == 0)
      break;
    print_frame(f, pc);
    if (link[0] <= fp)
      break;
    sp = fp;
    fp = link[0];
  }
#else
  (void)t;
  fprintf(f, "      (no backtrace on this architecture or context switch)\n");
#endif
}


/* The worker (index) or the loop thread (-1) running t, or -2. */
static int running_where(corio_rt_t *rt, corio_task_t *t) {
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (__atomic_load_n(&rt->workers[i].current, __ATOMIC_RELAXED) == t)
      return (int)i;
  if (__atomic_load_n(&rt->on_loop.current, __ATOMIC_RELAXED) == t)
    return -1;
  return -2;
}


static void dump_task(FILE *f, corio_rt_t *rt, corio_task_t *t) {
  unsigned st = atomic_load_explicit(&t->state, memory_order_acquire);
  int kind = atomic_load_explicit(&t->wait_kind, memory_order_relaxed);
  char name[CORIO_TASK_NAME_MAX + 64], what[192];
  int where;

  memcpy(name, t->name, CORIO_TASK_NAME_MAX);
  name[CORIO_TASK_NAME_MAX - 1] = '\0';
  if (name[0] == '\0' && t->describe != NULL)
    t->describe(t, name, sizeof name);
  fprintf(f, "  task %p \"%s\"%s: ", (void *)t, name,
          (st & CORIO__TASK_DETACHED) ? " (detached)" : "");
  if (st & CORIO__TASK_FINISHED) {
    fprintf(f, "finished, not joined\n");
    return;
  }
  where = running_where(rt, t);
  if (where >= 0) {
    fprintf(f, "running on worker %d\n", where);
    return;
  }
  if (where == -1) {
    fprintf(f, "running on the loop thread\n");
    return;
  }
  if (kind == CORIO__WK_NONE) {
    fprintf(f, "runnable\n");
    return;
  }
  describe_wait(t, kind, what, sizeof what);
  {
    uint64_t since = atomic_load_explicit(&t->wait_since, memory_order_relaxed);
    uint64_t now = corio__coarse_ns();
    fprintf(f, "waiting for %llu ms: %s\n",
            (unsigned long long)(now > since ? (now - since) / 1000000u : 0), what);
  }
  backtrace_suspended(f, t);
}


typedef struct dump_req {
  corio__req_t req;
  corio_rt_t *rt;
  corio__tally_t *tally;
  const char *who;
  char *text;
  size_t len;
  _Atomic(uint32_t) done;
  _Atomic(int) refs;             /* the caller and the runner */
} dump_req_t;


static void req_release(dump_req_t *d) {
  if (atomic_fetch_sub(&d->refs, 1) == 1) {
    free(d->text);
    free(d);
  }
}


static void list_tally(FILE *f, corio_rt_t *rt, corio__tally_t *home) {
  corio__list_t *n;

  for (n = home->tasks.next; n != &home->tasks; n = n->next) {
    corio_task_t *t = corio__container_of(n, corio_task_t, reg);
    /* handed over to be freed (tally.h): gone but for the list */
    if (atomic_load_explicit(&t->state, memory_order_relaxed) & CORIO__TASK_SPENT)
      continue;
    dump_task(f, rt, t);
  }
}


/* On the tally's owner thread. */
static void dump_req_run(corio__req_t *req) {
  dump_req_t *d = corio__container_of(req, dump_req_t, req);
  FILE *f = open_memstream(&d->text, &d->len);

  if (f != NULL) {
    if (d->tally->owned)
      corio__task_drain(d->tally); /* freed elsewhere: off the list */
    list_tally(f, d->rt, d->tally);
    fclose(f);
  }
  atomic_store_explicit(&d->done, 1, memory_order_release);
  corio__futex_wake(&d->done, 1);
  req_release(d);
}


static dump_req_t *post_dump(corio_rt_t *rt, corio__loop_t *lp, corio__tally_t *tally,
                             const char *who) {
  dump_req_t *d = calloc(1, sizeof *d);

  if (d == NULL)
    return NULL;
  d->req.run = dump_req_run;
  d->rt = rt;
  d->tally = tally;
  d->who = who;
  atomic_init(&d->refs, 2);
  corio__loop_post(lp, &d->req);
  return d;
}


static void print_answer(FILE *out, corio_rt_t *rt, dump_req_t *d, uint64_t until, int index) {
  uint64_t now;

  while (atomic_load_explicit(&d->done, memory_order_acquire) == 0 &&
         (now = uv_hrtime()) < until)
    corio__futex_wait_ns(&d->done, 0, until - now);
  fprintf(out, "%s:\n", d->who);
  if (atomic_load_explicit(&d->done, memory_order_acquire) == 0) {
    corio_task_t *t = index >= 0 ? __atomic_load_n(&rt->workers[index].current, __ATOMIC_RELAXED)
                                 : __atomic_load_n(&rt->on_loop.current, __ATOMIC_RELAXED);
    fprintf(out, "  (busy: did not answer within %u ms; it runs task %p)\n",
            ANSWER_NS / 1000000u, (void *)t);
  } else if (d->text != NULL) {
    fwrite(d->text, 1, d->len, out);
  }
  req_release(d);
}


int corio_rt_dump(corio_rt_t *rt, FILE *out) {
  dump_req_t **reqs;
  corio__worker_t *me = corio__worker_current();
  char (*names)[24];
  uint64_t until;
  unsigned i, n;

  if (rt == NULL || out == NULL)
    return UV_EINVAL;
  /* A thread of rt that would have to answer itself while it waits. */
  if ((me != NULL && me->rt == rt) || (corio_self() != NULL && corio_current_rt() == rt))
    return UV_EINVAL;
  n = rt->nworkers + 1;
  reqs = calloc(n, sizeof *reqs);
  names = calloc(n, sizeof *names);
  if (reqs == NULL || names == NULL) {
    free(reqs);
    free(names);
    return UV_ENOMEM;
  }
  for (i = 0; i < rt->nworkers; i++) {
    snprintf(names[i], sizeof names[i], "worker %u", i);
    reqs[i] = post_dump(rt, rt->workers[i].lp, &rt->workers[i].tally, names[i]);
  }
  snprintf(names[i], sizeof names[i], "the loop thread");
  reqs[i] = post_dump(rt, rt->lp, &rt->loop_tally, names[i]);
  until = uv_hrtime() + ANSWER_NS;

  fprintf(out, "corio: runtime %p, %u worker(s)%s, %llu live task(s)\n", (void *)rt,
          rt->nworkers, rt->loop_only ? " (loop-only)" : "",
          (unsigned long long)corio__rt_live(rt));
  for (i = 0; i < n; i++) {
    if (reqs[i] == NULL)
      fprintf(out, "%s: (no memory to ask it)\n", names[i]);
    else
      print_answer(out, rt, reqs[i], until, i < rt->nworkers ? (int)i : -1);
  }
  fprintf(out, "other threads:\n");
  {
    /* into memory under the lock, out to the stream after it */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f != NULL) {
      corio__spin_lock(&rt->foreign_tally.lock);
      list_tally(f, rt, &rt->foreign_tally);
      corio__spin_unlock(&rt->foreign_tally.lock);
      fclose(f);
      fwrite(text, 1, len, out);
      free(text);
    }
  }
  fflush(out);
  free(names); /* the runners never read them */
  free(reqs);
  return 0;
}


/* --- the dump signal ---------------------------------------------------------- */

/* The write end of the pipe of the runtime that holds the signal; -1. */
static _Atomic(int) signal_fd = -1;

/* Async-signal-safe: one write(2), errno kept. */
static void on_dump_signal(int sig) {
  int fd = atomic_load_explicit(&signal_fd, memory_order_relaxed), saved = errno;
  char c = 'd';

  (void)sig;
  if (fd >= 0 && write(fd, &c, 1) < 0) {
    /* a full pipe: a dump is coming anyway */
  }
  errno = saved;
}


static void *dump_thread_main(void *arg) {
  corio_rt_t *rt = arg;
  char c;

  for (;;) {
    ssize_t n = read(rt->dump_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0 || c == 'q')
      break;
    corio_rt_dump(rt, stderr);
  }
  return NULL;
}


/* The signal named by CORIO_DUMP_SIGNAL, or 0. */
static int signal_from_env(void) {
  const char *v = getenv("CORIO_DUMP_SIGNAL");

  if (v == NULL || *v == '\0')
    return 0;
  if (strncasecmp(v, "SIG", 3) == 0)
    v += 3;
  if (strcasecmp(v, "QUIT") == 0)
    return SIGQUIT;
  if (strcasecmp(v, "USR1") == 0)
    return SIGUSR1;
  if (strcasecmp(v, "USR2") == 0)
    return SIGUSR2;
  return atoi(v);
}


int corio__dump_signal_start(corio_rt_t *rt, int sig) {
  struct sigaction sa;
  sigset_t all, old;
  int err;

  rt->dump_pipe[0] = rt->dump_pipe[1] = -1;
  if (sig == 0)
    sig = signal_from_env();
  if (sig == 0)
    return 0;
  if (sig < 1 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
    return UV_EINVAL;
  if ((rt->dump_old = malloc(sizeof *rt->dump_old)) == NULL)
    return UV_ENOMEM;
  if (pipe2(rt->dump_pipe, O_CLOEXEC) != 0) {
    err = -errno;
    free(rt->dump_old);
    return err;
  }
  fcntl(rt->dump_pipe[1], F_SETFL, O_NONBLOCK); /* the handler never blocks */
  /* The thread takes no signal: the handler runs on whatever thread the
   * kernel picks, and only writes. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  err = -pthread_create(&rt->dump_thread, NULL, dump_thread_main, rt);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (err != 0) {
    close(rt->dump_pipe[0]);
    close(rt->dump_pipe[1]);
    free(rt->dump_old);
    return err;
  }
  atomic_store(&signal_fd, rt->dump_pipe[1]);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_dump_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(sig, &sa, rt->dump_old);
  rt->dump_signal = sig;
  return 0;
}


void corio__dump_signal_stop(corio_rt_t *rt) {
  char q = 'q';
  int expect = rt->dump_pipe[1];

  if (rt->dump_signal == 0)
    return;
  /* Give the signal back, unless a later runtime took it. */
  if (atomic_compare_exchange_strong(&signal_fd, &expect, -1))
    sigaction(rt->dump_signal, rt->dump_old, NULL);
  /* (a pipe full of signals' bytes: the thread drains it meanwhile) */
  while (write(rt->dump_pipe[1], &q, 1) < 0 && (errno == EINTR || errno == EAGAIN))
    usleep(1000);
  pthread_join(rt->dump_thread, NULL);
  close(rt->dump_pipe[0]);
  close(rt->dump_pipe[1]);
  free(rt->dump_old);
  rt->dump_signal = 0;
}

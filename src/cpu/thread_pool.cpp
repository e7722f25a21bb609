// thread_pool.cpp — worker threads waiting for jobs; the calling thread runs parts too.
#include "cpu/thread_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "tessera/error.hpp"

namespace tessera::cpu {
namespace {

// Below this many element operations a job runs on the calling thread alone.
constexpr std::int64_t kMinOpsPerThread = 1 << 15;

class Pool {
 public:
  explicit Pool(int threads) { start(threads); }
  ~Pool() { stop(); }

  int size() const { return size_; }

  void resize(int threads) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    stop();
    start(threads);
  }

  void run(int parts, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> job_lock(job_mutex_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      parts_ = parts;
      next_part_ = 0;
      unfinished_ = parts;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    work_until_done();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return unfinished_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void start(int threads) {
    size_ = std::max(1, threads);
    stopping_ = false;
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  // Takes parts until none is left; returns with the mutex released.
  void work_until_done() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (task_ != nullptr && next_part_ < parts_) {
      const int part = next_part_++;
      const auto* task = task_;
      lock.unlock();
      try {
        (*task)(part);
      } catch (...) {
        std::lock_guard<std::mutex> error_lock(error_mutex_);
        if (!error_) error_ = std::current_exception();
      }
      lock.lock();
      if (--unfinished_ == 0) done_.notify_all();
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      work_until_done();
    }
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // one job at a time (several Python threads may call in)
  std::mutex mutex_;
  std::mutex error_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0, next_part_ = 0, unfinished_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

int default_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

Pool* g_pool = nullptr;
std::mutex g_pool_mutex;

// A forked child has none of the parent's threads: forget the pool (leaking it; its threads are gone)
// so that the child builds a fresh one on first use.
void forget_pool_in_child() { g_pool = nullptr; new (&g_pool_mutex) std::mutex(); }

Pool& pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (g_pool == nullptr) {
    static bool registered = [] { return pthread_atfork(nullptr, nullptr, forget_pool_in_child) == 0; }();
    (void)registered;
    g_pool = new Pool(default_threads());
  }
  return *g_pool;
}

}  // namespace

void set_num_threads(int num_threads) {
  if (num_threads < 1) fail("num_threads", "must be at least 1, got " + std::to_string(num_threads));
  pool().resize(num_threads);
}

int get_num_threads() { return pool().size(); }

void parallel_for(std::int64_t count, std::int64_t cost_per_item,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (count <= 0) return;
  Pool& p = pool();
  const double total_ops = static_cast<double>(count) * static_cast<double>(std::max<std::int64_t>(cost_per_item, 1));
  const double useful_parts = std::max(1.0, std::min(total_ops / kMinOpsPerThread, 1e9));
  const std::int64_t parts = std::min<std::int64_t>(
      {static_cast<std::int64_t>(p.size()), count, static_cast<std::int64_t>(useful_parts)});
  if (parts <= 1) {
    body(0, count);
    return;
  }
  p.run(static_cast<int>(parts), [&](int part) {
    const std::int64_t begin = count * part / parts;
    const std::int64_t end = count * (part + 1) / parts;
    if (begin < end) body(begin, end);
  });
}

}  // namespace tessera::cpu

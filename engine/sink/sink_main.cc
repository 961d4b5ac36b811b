// ithappens-sink: the notification provider stand-in (email / sms / call). Deduplicates by
// idempotency key, appends every delivery attempt (delivered or dropped as a duplicate) to
// a JSONL file, and can leak memory on every request to play the Friday-batch story's
// leaking downstream service (its limit is the kernel's: real mode runs it in a memory
// cgroup, and the OOM killer ends it).
//
//   ithappens-sink --listen 127.0.0.1:0 --deliveries run/deliveries.jsonl [--log PATH]
//                  [--port-file PATH] [--leak-kb-per-request N]
//                  [--switched-leak-kb-per-request N]
//
// SIGUSR1 switches a further leak of --switched-leak-kb-per-request on, SIGUSR2 off (real
// mode's sink-leak fault). The leak grows after it recorded a delivery, before it answers:
// an OOM kill there leaves a message sent but not acknowledged. On start it reads the deliveries file back: a restarted provider remembers
// every idempotency key it saw.
//
// Each JSONL line: {"t_ms":…,"key":…,"channel":…,"to":…,"task":…,"run":…,"delivered":…}
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "engine/clock.h"
#include "engine/wire_size.h"
#include "engine/proto/queue.grpc.pb.h"
#include "engine/server/daemon.h"

using namespace ithappens;

namespace {

// A recipient is an address or a number; this bounds what one delivery may hold.
constexpr size_t kMaxRecipientBytes = 4096;

class SinkService final : public v1::EffectSink::Service {
 public:
  SinkService(FILE* out, int64_t leak_bytes, int64_t switched_leak_bytes,
              std::shared_ptr<spdlog::logger> log,
              engine::TimeMs time_origin_ms, double time_scale)
      : clock_(time_origin_ms, time_scale),
        out_(out),
        leak_bytes_(leak_bytes),
        switched_leak_bytes_(switched_leak_bytes),
        log_(std::move(log)) {}

  // A restarted provider remembers what it sent: the deliveries file is its idempotency
  // store. A line cut short by a kill (the last one) is skipped.
  engine::Status Load(const std::string& path) {
    std::ifstream in(path);
    std::string line;
    int64_t n = 0, torn = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("key")) {
        ++torn;
        continue;
      }
      v1::Delivery d;
      d.set_t_ms(j.value("t_ms", int64_t{0}));
      d.set_idempotency_key(j.value("key", ""));
      d.set_channel(j.value("channel", ""));
      d.set_recipient(j.value("to", ""));
      d.set_task_id(j.value("task", ""));
      d.set_run_id(j.value("run", 0u));
      d.set_delivered(j.value("delivered", false));
      first_seen_.emplace(d.idempotency_key(), d.t_ms());
      deliveries_.push_back(std::move(d));
      ++n;
    }
    if (n > 0 || torn > 0) log_->info("{}: {} deliveries remembered, {} torn lines", path, n, torn);
    return torn > 1 ? engine::Status::Internal(path + ": " + std::to_string(torn) +
                                               " lines are not deliveries")
                    : engine::Status::Ok();
  }

  grpc::Status Deliver(grpc::ServerContext*, const v1::DeliverRequest* req,
                       v1::DeliverResponse* resp) override {
    if (req->idempotency_key().empty() || req->idempotency_key().size() > 512) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "idempotency_key: length must be 1..512");
    }
    const std::string& ch = req->channel();
    if (ch != "email" && ch != "sms" && ch != "call") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "channel: '" + ch.substr(0, 32) + "' is not one of email, sms, call");
    }
    if (req->recipient().empty() || req->recipient().size() > kMaxRecipientBytes) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "recipient: " + std::to_string(req->recipient().size()) +
                              " bytes; the length must be 1.." + std::to_string(kMaxRecipientBytes));
    }
    if (req->task_id().size() > 128) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "task_id: " + std::to_string(req->task_id().size()) +
                              " bytes; at most 128");
    }
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_.NowMs();
    auto [it, fresh] = first_seen_.emplace(req->idempotency_key(), now);
    v1::Delivery d;
    d.set_t_ms(now);
    d.set_idempotency_key(req->idempotency_key());
    d.set_channel(ch);
    d.set_recipient(req->recipient());
    d.set_task_id(req->task_id());
    d.set_run_id(req->run_id());
    d.set_delivered(fresh);
    deliveries_.push_back(d);
    nlohmann::json line = {{"t_ms", now},         {"key", d.idempotency_key()}, {"channel", ch},
                           {"to", d.recipient()}, {"task", d.task_id()},        {"run", d.run_id()},
                           {"delivered", fresh}};
    std::fprintf(out_, "%s\n", line.dump().c_str());
    std::fflush(out_);
    // The leak: a leaking provider dies after it sent the message, before it answered
    // (the worker cannot know it went out; its retry must not send it again).
    daemon::Leak(leak_bytes_ + (daemon::LeakSwitchOn() ? switched_leak_bytes_ : 0));
    resp->set_delivered(fresh);
    resp->set_first_seen_ms(it->second);
    return grpc::Status::OK;
  }

  // One page, as much as fits the answer's budget (at least one delivery).
  grpc::Status ListDeliveries(grpc::ServerContext*, const v1::ListDeliveriesRequest* req,
                              v1::ListDeliveriesResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    size_t bytes = 0, k = req->from();
    for (; k < deliveries_.size(); ++k) {
      const size_t size = deliveries_[k].ByteSizeLong() + 8;  // with its tag and length
      if (resp->deliveries_size() > 0 && bytes + size > engine::kResponseBudgetBytes) break;
      bytes += size;
      *resp->add_deliveries() = deliveries_[k];
    }
    resp->set_next(k < deliveries_.size() ? k : 0);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext*, const v1::Empty*, v1::HealthResponse* resp) override {
    std::lock_guard<std::mutex> lock(mu_);
    resp->set_status("SERVING");
    resp->set_tasks(static_cast<int64_t>(first_seen_.size()));
    resp->set_store("sink");
    return grpc::Status::OK;
  }

 private:
  engine::ScaledClock clock_;  // the run's time (real mode's time scale)
  FILE* out_;
  const int64_t leak_bytes_;
  const int64_t switched_leak_bytes_;  // while SIGUSR1 switched the leak on
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mu_;
  std::map<std::string, int64_t> first_seen_;
  std::vector<v1::Delivery> deliveries_;
};

}  // namespace

int main(int argc, char** argv) {
  daemon::InstallTerminationHandler();
  daemon::InstallLeakSwitch();
  daemon::InstallOutOfMemoryAbort();
  CLI::App app{"ithappens effect sink: email / sms / call provider stand-in"};
  std::string listen = "127.0.0.1:7532", deliveries, log_path, port_file;
  int64_t leak_kb = 0, switched_leak_kb = 4096;
  app.add_option("--listen", listen, "HOST:PORT (port 0 picks a free one)");
  app.add_option("--deliveries", deliveries, "JSONL file of every delivery attempt")->required();
  app.add_option("--log", log_path, "log file (default: stderr)");
  app.add_option("--port-file", port_file, "write the port served on to this file");
  double time_scale = 1;
  int64_t time_origin_ms = 0;
  app.add_option("--time-scale", time_scale, "K run seconds per wall second, 1..100000")
      ->check(CLI::Range(1.0, 100'000.0));
  app.add_option("--time-origin-ms", time_origin_ms,
                 "wall time the scaled clock counts from (the run's; default: now)");
  app.add_option("--leak-kb-per-request", leak_kb, "leak this much memory per Deliver")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_option("--switched-leak-kb-per-request", switched_leak_kb,
                 "leak per Deliver while SIGUSR1 switched the leak on (until SIGUSR2)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  auto log = daemon::MakeLogger("sink", log_path);
  // A killed provider may have left its last line torn: cut it before appending.
  if (auto cut = daemon::CutTornTail(deliveries); !cut.ok()) {
    log->error("--deliveries {}", cut.status().ToString());
    return 3;
  } else if (*cut > 0) {
    log->warn("--deliveries {}: cut a torn last line of {} bytes", deliveries, *cut);
  }
  FILE* out = std::fopen(deliveries.c_str(), "a");
  if (out == nullptr) {
    log->error("--deliveries {}: cannot open for append", deliveries);
    return 3;
  }
  if (time_origin_ms == 0) time_origin_ms = engine::RealClock().NowMs();
  SinkService service(out, leak_kb * 1024, switched_leak_kb * 1024,
                      log, time_origin_ms, time_scale);
  if (auto st = service.Load(deliveries); !st.ok()) {
    log->error("--deliveries {}", st.ToString());
    return 3;
  }
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(engine::kMaxMessageBytes));
  builder.SetMaxSendMessageSize(static_cast<int>(engine::kMaxMessageBytes));
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", listen);
    return 3;
  }
  log->info("serving on port {} (leak {} KiB/request)", port, leak_kb);
  std::printf("ithappens-sink: serving on port %d\n", port);
  std::fflush(stdout);
  if (!port_file.empty()) (void)daemon::WritePortFile(port_file, port);
  int sig = daemon::WaitForTerminationSignal();
  log->info("signal {}: stopping", sig);
  // In-flight calls get a second to finish (they take milliseconds); idle client
  // connections would otherwise hold Shutdown until its deadline.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  std::fclose(out);
  return 0;
}

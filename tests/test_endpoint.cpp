// g4ref crosscheck endpoint against real servers on 127.0.0.1: g4ref serve in f32 and bf16 (judged against exact),
// and llama.cpp's own llama-server (built from the source node-llama-cpp ships) serving exported GGUFs at F32 and
// Q8_0; a GGUF with one tensor perturbed fails and names the first position.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "io/gguf.h"
#include "test_helpers.h"

namespace g4ref {
namespace {

// A server child process; READY_URL is polled until it answers (or 120 s pass).
struct ServerProcess {
  pid_t pid = -1;
  explicit ServerProcess(const std::string& cmd) {
    pid = fork();
    if (pid == 0) {
      execl("/bin/sh", "sh", "-c", ("exec " + cmd + " > /dev/null 2>&1").c_str(), nullptr);
      _exit(127);
    }
  }
  ~ServerProcess() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
    }
  }
};

bool wait_ready(const std::string& url) {
  std::string out;
  for (int i = 0; i < 240; ++i) {
    if (testing::run_command("curl -s -m 2 " + url + "/health", &out) == 0 && out.find("ok") != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

int free_port() {
  static int next = 18000 + (getpid() % 1000) * 7;
  return next++;
}

nlohmann::json crosscheck(const std::string& url, const std::string& model, const std::string& claim, int* rc) {
  std::string out;
  *rc = testing::run_command(std::string(G4REF_CLI) + " crosscheck endpoint --url " + url + " --model " + model +
                                 " --prompt 'Count from one to ten, please, and then back' --precision-claim " + claim +
                                 " --json",
                             &out);
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_object()) {
    std::cout << "[ endpoint ] " << claim << ": method " << j["method"] << ", " << j["positions"] << " positions, worst KL "
              << j["worst_kl"] << ", top-1 " << j["top1_agreement"] << ", " << j["verdict"] << "\n";
  }
  return j;
}

TEST(Endpoint, G4refServeInF32AndBf16AgainstExact) {
  const std::string dir = testing::tiny_checkpoint();
  const int p32 = free_port(), p16 = free_port();
  ServerProcess f32(std::string(G4REF_CLI) + " serve --model " + dir + " --precision f32 --port " + std::to_string(p32));
  ServerProcess bf16(std::string(G4REF_CLI) + " serve --model " + dir + " --precision bf16 --port " + std::to_string(p16));
  const std::string u32 = "http://127.0.0.1:" + std::to_string(p32), u16 = "http://127.0.0.1:" + std::to_string(p16);
  ASSERT_TRUE(wait_ready(u32) && wait_ready(u16));
  int rc = 0;
  nlohmann::json j = crosscheck(u32, dir, "f32", &rc);
  EXPECT_EQ(j["method"], "prompt_logprobs");
  EXPECT_EQ(j["verdict"], "PASS");
  EXPECT_EQ(rc, 0);
  EXPECT_LT(j["worst_kl"].get<double>(), 1e-9);
  j = crosscheck(u16, dir, "bf16", &rc);
  EXPECT_EQ(j["verdict"], "PASS");
  // Plain chat logprobs (what every OpenAI server offers): the generated positions, teacher-forced along its path.
  std::string out;
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " crosscheck endpoint --url " + u32 + " --model " + dir +
                                     " --prompt 'Count from one to ten' --method chat_logprobs --chat-tokens 6 --json",
                                 &out), 0) << out;
  const nlohmann::json chat = nlohmann::json::parse(out);
  EXPECT_EQ(chat["method"], "chat_logprobs");
  EXPECT_EQ(chat["positions"], 6);
  EXPECT_LT(chat["worst_kl"].get<double>(), 1e-9);
  EXPECT_EQ(chat["prompts"][0]["ids"], "prompt_token_ids returned equal");
  // bf16 is not what f32 promises: the same server claimed as f32 fails.
  j = crosscheck(u16, dir, "f32", &rc);
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_NE(rc, 0);
  EXPECT_TRUE(j["first_failure"].contains("position"));
}

// llama-server's binary: G4REF_LLAMA_SERVER, else the build cache of eval/adapters/llamacpp/build_llama_server.sh.
std::string llama_server() {
  if (const char* p = std::getenv("G4REF_LLAMA_SERVER")) return p;
  return std::string(G4REF_SOURCE_DIR) + "/.cache/llama-server/build/bin/llama-server";
}

// Multiplies the first COUNT floats of an F32 tensor by FACTOR, in place.
void perturb(const std::string& gguf, const std::string& tensor, int count, float factor) {
  size_t offset = 0;
  {
    auto f = GgufFile::open(gguf);
    const GgufTensor& t = f->tensor(tensor);
    ASSERT_EQ(t.type, GgmlType::F32);
    offset = f->data_offset() + static_cast<size_t>(t.offset);
  }
  std::fstream io(gguf, std::ios::in | std::ios::out | std::ios::binary);
  std::vector<float> v(static_cast<size_t>(count));
  io.seekg(static_cast<std::streamoff>(offset));
  io.read(reinterpret_cast<char*>(v.data()), count * 4);
  for (float& x : v) x *= factor;
  io.seekp(static_cast<std::streamoff>(offset));
  io.write(reinterpret_cast<const char*>(v.data()), count * 4);
}

TEST(Endpoint, LlamaServerAtF32AndQ8AndAPerturbedTensor) {
  if (access(llama_server().c_str(), X_OK) != 0) {
    GTEST_SKIP() << "llama-server is not built (" << llama_server() << "; setup.sh builds it)";
  }
  testing::TempDir d("endpoint_llama");
  const std::string dir = testing::tiny_checkpoint();
  std::string out;
  for (const std::string type : {"f32", "q8_0"}) {
    const std::string gguf = d / (type + ".gguf");
    ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + dir + " --type " + type + " --out " + gguf, &out), 0) << out;
    const int port = free_port();
    // F32 claims f32 arithmetic throughout: llama-server's defaults (an f16 KV cache, CPU flash attention that
    // accumulates in f16) are not that, so they are switched off for it; Q8_0 runs with the defaults.
    const std::string exact_kv = type == "f32" ? " -fa off -ctk f32 -ctv f32" : "";
    ServerProcess s(llama_server() + " -m " + gguf + " --host 127.0.0.1 --port " + std::to_string(port) +
                    " -c 512 -t 2 --no-webui" + exact_kv);
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    ASSERT_TRUE(wait_ready(url)) << "llama-server did not start on " << gguf;
    int rc = 0;
    const nlohmann::json j = crosscheck(url, gguf, type, &rc);
    EXPECT_EQ(j["method"], "completion_n_probs") << type;
    EXPECT_EQ(j["verdict"], "PASS") << type;
    EXPECT_EQ(rc, 0) << type;
  }
  // One tensor perturbed in the file llama-server reads, the reference on the original: FAIL at a named position.
  const std::string good = d / "f32.gguf", bad = d / "bad.gguf";
  std::filesystem::copy_file(good, bad);
  perturb(bad, "blk.1.attn_q.weight", 64, 3.0f);
  const int port = free_port();
  ServerProcess s(llama_server() + " -m " + bad + " --host 127.0.0.1 --port " + std::to_string(port) +
                  " -c 512 -t 2 --no-webui -fa off -ctk f32 -ctv f32");
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(wait_ready(url));
  int rc = 0;
  const nlohmann::json j = crosscheck(url, good, "f32", &rc);
  EXPECT_EQ(j["verdict"], "FAIL");
  EXPECT_NE(rc, 0);
  ASSERT_TRUE(j["first_failure"].is_object());
  std::cout << "[ endpoint ] perturbed blk.1.attn_q.weight: first failing position " << j["first_failure"]["position"]
            << " (KL " << j["first_failure"]["kl"] << ")\n";
}

// The records of a run folder, by sample id.
std::map<std::string, nlohmann::json> records_of(const std::string& dir) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(dir + "/samples.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json r = nlohmann::json::parse(line);
    out[r["id"].get<std::string>()] = r;
  }
  return out;
}

nlohmann::json run_json(const std::string& cmd) {
  std::string out;
  const int rc = testing::run_command(cmd + " 2>&1", &out);
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  const size_t brace = out.find('{');
  return nlohmann::json::parse(brace == std::string::npos ? std::string("null") : out.substr(brace), nullptr, false);
}

// The harness through a server (eval run --backend endpoint): g4ref serve in exact gives every record the
// in-process reference gives (log-likelihood, greedy generation, seeded sampling); llama.cpp's llama-server on an
// F32 GGUF of the same weights is scored by prompt-prefix n_probs, and eval audit finds it agreeing with the
// reference on every sample.
TEST(Endpoint, HarnessRunsThroughAServer) {
  const std::string dir = testing::tiny_checkpoint();
  testing::TempDir d("endpoint_harness");
  const int port = free_port();
  ServerProcess serve(std::string(G4REF_CLI) + " serve --model " + dir + " --precision exact --port " + std::to_string(port));
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(wait_ready(url));
  const std::string cli = std::string(G4REF_CLI) + " eval run --quiet --json --model " + dir;
  struct Case {
    const char* task;
    const char* extra;
  };
  for (const Case c : {Case{"mmlu_pro_ll", "--limit 4"}, Case{"mmlu_pro", "--limit 3 --max-new-tokens 10"},
                       Case{"aime", "--limit 2 --max-new-tokens 10 --seed 7"}}) {
    const std::string ref_dir = d / (std::string(c.task) + "_ref"), end_dir = d / (std::string(c.task) + "_endpoint");
    run_json(cli + " --task " + c.task + " " + c.extra + " --backend reference --out " + ref_dir);
    const nlohmann::json j =
        run_json(cli + " --task " + c.task + " " + c.extra + " --backend endpoint --url " + url + " --out " + end_dir);
    ASSERT_TRUE(j.is_object());
    const auto ref = records_of(ref_dir), end = records_of(end_dir);
    ASSERT_EQ(ref.size(), end.size()) << c.task;
    ASSERT_FALSE(ref.empty());
    int same = 0;
    for (const auto& [id, r] : ref) {
      const nlohmann::json& e = end.at(id);
      EXPECT_EQ(e["prompt_ids_sha256"], r["prompt_ids_sha256"]) << c.task << " " << id;
      EXPECT_EQ(e["output"], r["output"]) << c.task << " " << id;
      EXPECT_EQ(e["score"], r["score"]) << c.task << " " << id;
      if (r.contains("output_ids")) {
        EXPECT_EQ(e["output_ids"], r["output_ids"]) << c.task << " " << id;
      }
      if (r.contains("choice_logprobs")) {
        for (const auto& [letter, lp] : r["choice_logprobs"].items()) {
          EXPECT_NEAR(e["choice_logprobs"][letter].get<double>(), lp.get<double>(), 1e-12) << c.task << " " << id << " " << letter;
        }
      }
      same += e["output"] == r["output"];
    }
    std::cout << "[ endpoint harness ] " << c.task << ": g4ref serve (exact) " << same << "/" << ref.size()
              << " records as the in-process reference's\n";
  }
  // A sampled run through the server, audited: the reference's sampler replayed on its own logits draws every token.
  const nlohmann::json audit = run_json(std::string(G4REF_CLI) + " eval audit " + (d / "aime_endpoint") + " --model " + dir +
                                        " --samples 0 --json");
  EXPECT_EQ(audit["agreeing"], audit["audited"]);
  EXPECT_EQ(audit["audited"], 8);

  if (access(llama_server().c_str(), X_OK) != 0) {
    GTEST_SKIP() << "llama-server is not built (" << llama_server() << "; setup.sh builds it)";
  }
  std::string out;
  const std::string gguf = d / "f32.gguf";
  ASSERT_EQ(testing::run_command(std::string(G4REF_CLI) + " export-gguf --model " + dir + " --type f32 --out " + gguf, &out), 0) << out;
  const int lport = free_port();
  ServerProcess llama(llama_server() + " -m " + gguf + " --host 127.0.0.1 --port " + std::to_string(lport) +
                      " -c 1024 -t 2 --no-webui -fa off -ctk f32 -ctv f32");
  const std::string lurl = "http://127.0.0.1:" + std::to_string(lport);
  ASSERT_TRUE(wait_ready(lurl));
  for (const Case c : {Case{"mmlu_pro_ll", "--limit 4"}, Case{"mmlu_pro", "--limit 2 --max-new-tokens 8"}}) {
    const std::string run_dir = d / (std::string(c.task) + "_llama");
    const nlohmann::json j = run_json(cli + " --task " + c.task + " " + c.extra + " --backend endpoint --url " + lurl +
                                      " --precision f32 --out " + run_dir);
    ASSERT_TRUE(j.is_object());
    const nlohmann::json run = nlohmann::json::parse(std::ifstream(run_dir + "/run.json"));
    EXPECT_EQ(run["backend"]["score_method"], "completion_n_probs");
    // The reference on the GGUF llama-server reads (llama.cpp's embedding scale is the GGUF's).
    const nlohmann::json a = run_json(std::string(G4REF_CLI) + " eval audit " + run_dir + " --model " + gguf +
                                      " --samples 0 --json");
    std::cout << "[ endpoint harness ] " << c.task << " on llama-server F32: " << a["agreeing"] << "/" << a["audited"]
              << " samples agree with the reference (audit), same prompt ids " << a["same_prompt_ids"] << "\n";
    EXPECT_EQ(a["agreeing"], a["audited"]) << c.task;
    EXPECT_EQ(a["same_prompt_ids"], a["audited"]) << c.task;
  }
}

}  // namespace
}  // namespace g4ref

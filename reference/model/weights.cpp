#include "model/weights.h"

#include <filesystem>
#include <sstream>

#include "base/error.h"
#include "model/tensor_names.h"

namespace g4ref {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

}  // namespace

MatrixView matrix_view(const TensorView& t) {
  MatrixView m;
  m.dtype = t.dtype;
  m.data = t.data;
  m.name = t.name;
  if (t.shape.empty()) {
    m.rows = 1;
    m.cols = 1;
  } else if (t.shape.size() == 1) {
    m.rows = 1;
    m.cols = t.shape[0];
  } else {
    m.rows = t.shape[0];
    m.cols = t.numel() / std::max<int64_t>(t.shape[0], 1);
  }
  return m;
}

void check_tensors(const TensorStore& store, const ModelConfig& c, const std::string& where) {
  for (const TensorSpec& spec : expected_tensors(c)) {
    const TensorView* t = store.find(spec.name);
    if (!t) fail(where, "tensor '" + spec.name + "' is missing (expected shape " + shape_str(spec.shape) + ")");
    if (t->shape != spec.shape) {
      fail(where, "tensor '" + spec.name + "' has shape " + shape_str(t->shape) + " (expected " +
                      shape_str(spec.shape) + " from " + c.source + ")");
    }
    if (t->dtype != DType::BF16 && t->dtype != DType::F16 && t->dtype != DType::F32) {
      fail(where, "tensor '" + spec.name + "' has dtype " + dtype_name(t->dtype) + " (expected BF16, F16 or F32)");
    }
  }
}

TextWeights bind_text_weights(const TensorStore& store, const ModelConfig& c) {
  return bind_text_weights([&](const std::string& name) { return matrix_view(store.get(name)); }, c);
}

TextWeights bind_text_weights(const std::function<MatrixView(const std::string&)>& get, const ModelConfig& c) {
  TextWeights w;
  w.embed = get("model.language_model.embed_tokens.weight");
  w.final_norm = get("model.language_model.norm.weight");
  for (int l = 0; l < c.text.num_hidden_layers; ++l) {
    const std::string p = layer_prefix(l);
    LayerWeights L;
    L.input_norm = get(p + "input_layernorm.weight");
    L.post_attn_norm = get(p + "post_attention_layernorm.weight");
    L.pre_ffn_norm = get(p + "pre_feedforward_layernorm.weight");
    L.post_ffn_norm = get(p + "post_feedforward_layernorm.weight");
    L.layer_scalar = get(p + "layer_scalar");
    L.q = get(p + "self_attn.q_proj.weight");
    L.k = get(p + "self_attn.k_proj.weight");
    if (c.text.layer_has_v_proj(l)) L.v = get(p + "self_attn.v_proj.weight");
    L.o = get(p + "self_attn.o_proj.weight");
    L.q_norm = get(p + "self_attn.q_norm.weight");
    L.k_norm = get(p + "self_attn.k_norm.weight");
    L.gate = get(p + "mlp.gate_proj.weight");
    L.up = get(p + "mlp.up_proj.weight");
    L.down = get(p + "mlp.down_proj.weight");
    w.layers.push_back(L);
  }
  return w;
}

std::unique_ptr<Model> Model::load(const std::string& dir, const std::string& mmproj) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(dir) && fs::path(dir).extension() == ".gguf") {
    auto m = load_gguf(dir);
    if (!mmproj.empty()) m->attach_mmproj(mmproj);
    return m;
  }
  if (!fs::is_directory(dir)) fail(dir, "not a checkpoint directory");
  auto m = std::unique_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_ = load_config((fs::path(dir) / "config.json").string());
  m->store_ = TensorStore::open_dir(dir);
  check_tensors(*m->store_, m->config_, dir);
  m->text_ = bind_text_weights(*m->store_, m->config_);
  auto get = [&](const std::string& name) { return matrix_view(m->store_->get(name)); };
  if (m->config_.vision.present) {
    const std::string v = "model.vision_embedder.";
    VisionWeights& w = m->vision_;
    w.ln1_w = get(v + "patch_ln1.weight");
    w.ln1_b = get(v + "patch_ln1.bias");
    w.dense_w = get(v + "patch_dense.weight");
    w.dense_b = get(v + "patch_dense.bias");
    w.ln2_w = get(v + "patch_ln2.weight");
    w.ln2_b = get(v + "patch_ln2.bias");
    w.pos_embedding = get(v + "pos_embedding");
    w.pos_norm_w = get(v + "pos_norm.weight");
    w.pos_norm_b = get(v + "pos_norm.bias");
    w.projection = get("model.embed_vision.embedding_projection.weight");
  }
  if (m->config_.audio.present) m->audio_.projection = get("model.embed_audio.embedding_projection.weight");
  if (!mmproj.empty()) m->attach_mmproj(mmproj);
  return m;
}

}  // namespace g4ref

// Uploading a Model: weights by their reference names, fused query/key/value projections, the CPU layers' constants.
#include "device_model.h"

#include <string>

#include "bfloat16.h"
#include "stepscope/decoder.h"
#include "stepscope/encoder.h"
#include "stepscope/error.h"
#include "stepscope/parameters.h"

namespace stepscope::cuda {

namespace {

class Uploader {
public:
    Uploader(const Model& model, cudaStream_t stream)
        : tensors_(model.tensors()), bf16_(model.config().precision == "bf16"), stream_(stream) {}

    std::vector<float> values(const std::string& name) const { return tensors_.at(name).values; }

    std::vector<float> weight(const std::string& linear) const {
        std::vector<float> w = values(linear + ".weight");
        if (bf16_)
            for (float& v : w) v = round_to_bf16(v);
        return w;
    }

    DeviceLinear linear(const std::string& prefix) const {
        const std::vector<int64_t>& shape = tensors_.at(prefix + ".weight").shape;
        return DeviceLinear::upload(weight(prefix), values(prefix + ".bias"), int(shape[0]), int(shape[1]), stream_);
    }

    // Parts that read the same input as one product: the rows of their weights and biases in order.
    DeviceLinear fused(const std::vector<std::string>& prefixes) const {
        std::vector<float> w, b;
        int in = 0, out = 0;
        for (const std::string& prefix : prefixes) {
            const std::vector<float> part = weight(prefix), part_bias = values(prefix + ".bias");
            w.insert(w.end(), part.begin(), part.end());
            b.insert(b.end(), part_bias.begin(), part_bias.end());
            in = int(tensors_.at(prefix + ".weight").shape[1]);
            out += int(tensors_.at(prefix + ".weight").shape[0]);
        }
        return DeviceLinear::upload(w, b, out, in, stream_);
    }

    DeviceNorm norm(const std::string& prefix) const {
        DeviceNorm norm;
        const std::vector<float> weight = values(prefix + ".weight"), bias = values(prefix + ".bias");
        norm.weight.upload(weight.data(), weight.size(), stream_);
        norm.bias.upload(bias.data(), bias.size(), stream_);
        return norm;
    }

private:
    const TensorMap& tensors_;
    bool bf16_;
    cudaStream_t stream_;
};

// The feature maps the device has kernels for; the random ones run on the CPU only.
FeatureMapKind feature_map_kind(const std::string& name) {
    if (name == "elu") return FeatureMapKind::Elu;
    if (name == "relu") return FeatureMapKind::Relu;
    throw Error("feature map '" + name +
                "' is not implemented on CUDA (there: elu, relu); step this model with --device cpu");
}

DeviceAttention attention_constants(const InnerAttention& inner, const ModelConfig& config) {
    DeviceAttention a;
    a.kind = inner.kind();
    if (a.kind == AttentionKind::Linear) a.feature_map = feature_map_kind(config.feature_map);
    a.heads = inner.heads();
    a.query_dims = inner.query_dims();
    a.value_dims = inner.value_dims();
    a.eps = inner.eps();
    a.temperature = inner.temperature();
    return a;
}

DeviceAttention self_attention(const Uploader& up, const InnerAttention& inner, const ModelConfig& config,
                               const std::string& prefix) {
    DeviceAttention a = attention_constants(inner, config);
    a.projection = up.fused({prefix + ".query_projection", prefix + ".key_projection", prefix + ".value_projection"});
    a.out_projection = up.linear(prefix + ".out_projection");
    return a;
}

DeviceAttention cross_attention(const Uploader& up, const InnerAttention& inner, const ModelConfig& config,
                                int layer) {
    const std::string prefix = cross_attention_prefix(layer);
    DeviceAttention a = attention_constants(inner, config);
    a.projection = up.linear(prefix + ".query_projection");
    a.key_projection = up.linear(prefix + ".key_projection");
    a.value_projection = up.linear(prefix + ".value_projection");
    a.out_projection = up.linear(prefix + ".out_projection");
    return a;
}

}  // namespace

void require_device_support(const Model& model) {
    const ModelConfig& config = model.config();
    // The device multiplies float32 (or bfloat16-rounded) weights; it has no kernel for q8's integer sums.
    if (config.precision == "q8")
        throw Error("precision q8 is not implemented on CUDA (there: f32, bf16); step this model with --device cpu");
    const bool linear = attention_kind(config.self_attention()) == AttentionKind::Linear ||
                        (config.kind == ModelKind::Decoder &&
                         attention_kind(config.cross_attention_type) == AttentionKind::Linear);
    if (linear) feature_map_kind(config.feature_map);  // refuses the maps the device has no kernel for
}

DeviceModel upload_model(const Model& model, cudaStream_t stream) {
    require_device_support(model);
    const ModelConfig& config = model.config();
    const Uploader up(model, stream);
    DeviceModel device;
    device.decoder = config.kind == ModelKind::Decoder;
    device.d_model = config.d_model();
    device.activation = activation_from_name(config.activation) == Activation::Gelu ? ActivationKind::Gelu
                                                                                    : ActivationKind::Relu;
    for (int i = 0; i < config.n_layers; ++i) {
        const std::string layer = "layers." + std::to_string(i);
        DeviceLayer l;
        if (device.decoder) {
            const RecurrentTransformerDecoderLayer& cpu = model.decoder()->layers()[i];
            l.self_attention =
                self_attention(up, cpu.self_attention().inner(), config, self_attention_prefix(config, i));
            l.cross_attention = cross_attention(up, cpu.cross_attention().inner(), config, i);
            l.norm3 = up.norm(layer + ".norm3");
        } else {
            const RecurrentTransformerEncoderLayer& cpu = model.encoder()->layers()[i];
            l.self_attention = self_attention(up, cpu.attention().inner(), config, self_attention_prefix(config, i));
        }
        l.linear1 = up.linear(layer + ".linear1");
        l.linear2 = up.linear(layer + ".linear2");
        l.norm1 = up.norm(layer + ".norm1");
        l.norm2 = up.norm(layer + ".norm2");
        device.layers.push_back(std::move(l));
    }
    if (config.final_normalization) device.norm = up.norm("norm");
    // A failed upload shows here, at construction, rather than in the first step.
    STEPSCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
    return device;
}

}  // namespace stepscope::cuda

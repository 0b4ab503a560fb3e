// Uploading a Model: weights by their reference names, fused query/key/value projections, the CPU layers' constants.
#include "device_model.h"

#include <string>

#include "layers/attention_layer.h"
#include "kernels/bfloat16.h"
#include "stepscope/error.h"
#include "stepscope/stepper.h"

namespace stepscope::cuda {

namespace {

class Uploader {
public:
    Uploader(const Model& model, cudaStream_t stream)
        : tensors_(model.tensors()), bf16_(model.precision() == Precision::Bf16), stream_(stream) {}

    std::vector<float> values(const std::string& name) const { return tensors_.at(name).values; }

    std::vector<float> weight(const std::string& linear) const {
        std::vector<float> w = values(linear + ".weight");
        if (bf16_)
            for (float& v : w) v = round_to_bf16(v);
        return w;
    }

    DeviceLinear linear(const std::string& prefix) const {
        const std::vector<int64_t>& shape = tensors_.at(prefix + ".weight").shape;
        return bf16_inputs(
            DeviceLinear::upload(weight(prefix), values(prefix + ".bias"), int(shape[0]), int(shape[1]), stream_));
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
        return bf16_inputs(DeviceLinear::upload(w, b, out, in, stream_));
    }

    // A bfloat16 model's products round their inputs as the CPU's do.
    DeviceLinear bf16_inputs(DeviceLinear linear) const {
        linear.bf16_inputs = bf16_;
        return linear;
    }

    DeviceNorm norm(const std::string& prefix) const {
        DeviceNorm norm;
        const std::vector<float> weight = values(prefix + ".weight"), bias = values(prefix + ".bias");
        norm.weight.upload(weight.data(), weight.size(), stream_);
        norm.bias.upload(bias.data(), bias.size(), stream_);
        return norm;
    }

private:
    const TensorMap tensors_;  // copied out of the model for the upload
    bool bf16_;
    cudaStream_t stream_;
};

// The feature maps the device has kernels for; the random ones run on the CPU only.
FeatureMapKind feature_map_kind(const AttentionModule& module, const ModelConfig& config) {
    switch (module.inner->feature_map()->pointwise()) {
        case PointwiseMap::Elu: return FeatureMapKind::Elu;
        case PointwiseMap::Relu: return FeatureMapKind::Relu;
        case PointwiseMap::None: break;
    }
    throw Error("feature map '" + config.feature_map +
                "' is not implemented on CUDA (there: elu, relu); step this model with --device cpu");
}

DeviceAttention attention_constants(const AttentionModule& module, const ModelConfig& config) {
    const InnerAttention& inner = *module.inner;
    DeviceAttention a;
    a.kernel = module.kind->cuda;
    if (module.kind->feature_map) a.feature_map = feature_map_kind(module, config);
    a.heads = inner.heads();
    a.query_dims = inner.query_dims();
    a.value_dims = inner.value_dims();
    a.eps = inner.eps();
    a.temperature = inner.temperature();
    return a;
}

// Self attention fuses its query, key and value projections; cross attention projects the memory apart.
DeviceAttention attention(const Uploader& up, const AttentionModule& module, const ModelConfig& config) {
    DeviceAttention a = attention_constants(module, config);
    const std::string& prefix = module.prefix;
    if (module.role == AttentionRole::Self) {
        a.projection =
            up.fused({prefix + ".query_projection", prefix + ".key_projection", prefix + ".value_projection"});
    } else {
        a.projection = up.linear(prefix + ".query_projection");
        a.key_projection = up.linear(prefix + ".key_projection");
        a.value_projection = up.linear(prefix + ".value_projection");
    }
    a.out_projection = up.linear(prefix + ".out_projection");
    return a;
}

}  // namespace

void require_device_support(const Model& model) {
    // The device multiplies float32 (or bfloat16-rounded) weights; it has no kernel for q8's integer sums.
    if (model.precision() == Precision::Q8)
        throw Error("precision q8 is not implemented on CUDA (there: f32, bf16); step this model with --device cpu");
    if (cache_precision_from_name(model.config().cache_precision) != CachePrecision::F32)
        throw Error("cache_precision " + model.config().cache_precision +
                    " is not implemented on CUDA (there: f32); step this model with --device cpu");
    if (const std::string refusal = device_refusal(model, Device::Cuda); !refusal.empty()) throw Error(refusal);
    for (const AttentionModule& module : model.attention_modules())
        if (module.kind->feature_map) feature_map_kind(module, model.config());  // refuses maps without a kernel
}

DeviceModel upload_model(const Model& model, cudaStream_t stream) {
    require_device_support(model);
    const ModelConfig& config = model.config();
    const Uploader up(model, stream);
    DeviceModel device;
    device.decoder = config.kind == ModelKind::Decoder;
    device.d_model = config.d_model();
    device.activation = model.activation() == Activation::Gelu ? ActivationKind::Gelu : ActivationKind::Relu;
    device.layers.resize(size_t(config.n_layers));
    for (const AttentionModule& module : model.attention_modules()) {
        DeviceLayer& l = device.layers[size_t(module.layer)];
        (module.role == AttentionRole::Self ? l.self_attention : l.cross_attention) = attention(up, module, config);
    }
    for (int i = 0; i < config.n_layers; ++i) {
        const std::string layer = "layers." + std::to_string(i);
        DeviceLayer& l = device.layers[size_t(i)];
        if (device.decoder) l.norm3 = up.norm(layer + ".norm3");
        l.linear1 = up.linear(layer + ".linear1");
        l.linear2 = up.linear(layer + ".linear2");
        l.norm1 = up.norm(layer + ".norm1");
        l.norm2 = up.norm(layer + ".norm2");
    }
    if (config.final_normalization) device.norm = up.norm("norm");
    // A failed upload shows here, at construction, rather than in the first step.
    STEPSCOPE_CUDA_CHECK(cudaStreamSynchronize(stream));
    return device;
}

}  // namespace stepscope::cuda

// Safetensors I/O: a parser that turns any damaged input into an Error, and an aligned, atomic writer.
#include "stepscope/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "kernels/bfloat16.h"
#include "stepscope/atomic_file.h"
#include "stepscope/error.h"
#include "stepscope/memory_limit.h"
#include "stepscope/regular_file.h"

// Tensor bytes are copied between the file and memory as they are; the format is little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "Stepscope reads and writes safetensors on little-endian hosts only"
#endif

namespace stepscope {

namespace {

using nlohmann::json;

constexpr uint64_t kLengthBytes = 8;  // the u64 header length that opens every file
constexpr uint64_t kHeaderAlignment = 8;
constexpr uint64_t kMaxHeaderLength = 100'000'000;  // the reference library's own limit
// Root object, tensor entry, shape: a deeper header is not safetensors, and
// refusing it early keeps hostile input from building a large tree.
constexpr int kMaxContainerDepth = 3;
constexpr const char* kMetadataKey = "__metadata__";

// Where one tensor's bytes lie in the data section and how to decode them.
struct TensorEntry {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // relative to the start of the data section
    uint64_t end = 0;
};

// The layout of a file whose header length has been checked against its size.
struct Sections {
    uint64_t header_length = 0;
    uint64_t data_start = 0;  // file offset of the first data byte
    uint64_t data_size = 0;
};

std::string tensor_label(const std::string& name) { return "tensor " + quote_text(name); }

// A JSON value quoted in a message, cut short because a damaged header can hold anything.
std::string brief(const json& value) {
    const std::string text = value.dump();
    return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

uint64_t item_size(DType dtype) {
    switch (dtype) {
        case DType::F32: return 4;
        case DType::I64: return 8;
        case DType::BF16: return 2;
    }
    return 0;
}

Sections locate_sections(const std::vector<uint8_t>& bytes) {
    if (bytes.size() < kLengthBytes)
        throw Error("file is " + std::to_string(bytes.size()) +
                    " bytes, shorter than the 8-byte header length at offset 0");
    uint64_t length = 0;
    for (int i = int(kLengthBytes) - 1; i >= 0; --i) length = (length << 8) | bytes[size_t(i)];
    if (length > kMaxHeaderLength)
        throw Error("header length " + std::to_string(length) + " (bytes 0-7) exceeds the " +
                    std::to_string(kMaxHeaderLength) + "-byte limit of the format");
    const uint64_t after_length = bytes.size() - kLengthBytes;
    if (length > after_length)
        throw Error("header length " + std::to_string(length) + " (bytes 0-7) runs past the end of the file: only " +
                    std::to_string(after_length) + " bytes follow offset 8");
    return {length, kLengthBytes + length, after_length - length};
}

bool refuse_deep_nesting(int depth, json::parse_event_t event, json&) {
    const bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    if (opens && depth >= kMaxContainerDepth)
        throw Error("JSON header (file bytes 8 onwards) nests deeper than the " + std::to_string(kMaxContainerDepth) +
                    " levels of a safetensors header");
    return true;
}

json parse_header(const std::vector<uint8_t>& bytes, const Sections& sections) {
    const auto first = bytes.begin() + long(kLengthBytes);
    json header;
    try {
        header = json::parse(first, first + long(sections.header_length), refuse_deep_nesting);
    } catch (const json::parse_error& e) {
        // e.byte counts from 1 within the header text.
        throw Error("malformed JSON header at file byte offset " + std::to_string(kLengthBytes + e.byte - 1) + ": " +
                    clean_text(e.what()));
    } catch (const json::exception& e) {
        throw Error("malformed JSON header (file bytes 8 onwards): " + clean_text(e.what()));
    }
    if (!header.is_object())
        throw Error(std::string("JSON header at file byte offset 8 is ") + header.type_name() + ", not an object");
    return header;
}

std::map<std::string, std::string> parse_metadata(const json& value) {
    if (!value.is_object())
        throw Error(std::string("__metadata__ must be an object of strings, got ") + value.type_name());
    std::map<std::string, std::string> metadata;
    for (const auto& [key, text] : value.items()) {
        if (!text.is_string())
            throw Error("__metadata__ value for key " + quote_text(key) + " must be a string, got " + text.type_name());
        metadata[key] = text.get<std::string>();
    }
    return metadata;
}

const json& required_field(const std::string& name, const json& entry, const char* field) {
    const auto found = entry.find(field);
    if (found == entry.end()) throw Error(tensor_label(name) + " has no '" + field + "'");
    return *found;
}

DType parse_dtype(const std::string& name, const json& value) {
    if (!value.is_string()) throw Error(tensor_label(name) + ": dtype must be a string, got " + value.type_name());
    const std::string& text = value.get_ref<const std::string&>();
    if (text == "F32") return DType::F32;
    if (text == "I64") return DType::I64;
    if (text == "BF16") return DType::BF16;
    throw Error(tensor_label(name) + " has unsupported dtype " + quote_text(text) +
                " (Stepscope reads F32, BF16 and I64)");
}

std::vector<int64_t> parse_shape(const std::string& name, const json& value) {
    if (!value.is_array()) throw Error(tensor_label(name) + ": shape must be an array, got " + value.type_name());
    std::vector<int64_t> shape;
    for (const json& dim : value) {
        if (!dim.is_number_integer())
            throw Error(tensor_label(name) + ": shape entries must be integers, got " + brief(dim));
        if (!dim.is_number_unsigned()) throw Error(tensor_label(name) + " has negative dimension " + brief(dim));
        const uint64_t size = dim.get<uint64_t>();
        if (size > uint64_t(std::numeric_limits<int64_t>::max()))
            throw Error(tensor_label(name) + " has dimension " + std::to_string(size) + ", too large to address");
        shape.push_back(int64_t(size));
    }
    return shape;
}

// Checked against the data section's size, so that no later step trusts a lying offset.
void parse_offsets(TensorEntry& entry, const json& value, const Sections& sections) {
    const bool pair =
        value.is_array() && value.size() == 2 && value[0].is_number_unsigned() && value[1].is_number_unsigned();
    if (!pair)
        throw Error(tensor_label(entry.name) + ": data_offsets must be two non-negative integers, got " + brief(value));
    entry.begin = value[0].get<uint64_t>();
    entry.end = value[1].get<uint64_t>();
    const std::string span = " [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
    if (entry.begin > entry.end)
        throw Error(tensor_label(entry.name) + ": data_offsets" + span + " end before they begin");
    if (entry.end > sections.data_size)
        throw Error(tensor_label(entry.name) + ": data_offsets" + span + " run past the end of the data section (" +
                    std::to_string(sections.data_size) + " bytes from file offset " +
                    std::to_string(sections.data_start) + "); is the file truncated?");
}

// A zero dimension empties the tensor whatever the others are; otherwise the
// product must fit in 64 bits, where it can be compared with the offsets.
uint64_t byte_size(const TensorEntry& entry) {
    if (std::find(entry.shape.begin(), entry.shape.end(), 0) != entry.shape.end()) return 0;
    uint64_t bytes = item_size(entry.dtype);
    for (int64_t dim : entry.shape) {
        if (bytes > std::numeric_limits<uint64_t>::max() / uint64_t(dim))
            throw Error(tensor_label(entry.name) + " has shape " + shape_to_string(entry.shape) +
                        ", too many bytes to count");
        bytes *= uint64_t(dim);
    }
    return bytes;
}

void check_size_matches_offsets(const TensorEntry& entry) {
    const uint64_t bytes = byte_size(entry);
    if (bytes != entry.end - entry.begin)
        throw Error(tensor_label(entry.name) + " has shape " + shape_to_string(entry.shape) + " of " +
                    dtype_name(entry.dtype) + ", which is " + std::to_string(bytes) + " bytes, but its data_offsets [" +
                    std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "] span " +
                    std::to_string(entry.end - entry.begin));
}

TensorEntry parse_entry(const std::string& name, const json& value, const Sections& sections) {
    if (!value.is_object()) throw Error(tensor_label(name) + " must be an object, got " + value.type_name());
    TensorEntry entry;
    entry.name = name;
    entry.dtype = parse_dtype(name, required_field(name, value, "dtype"));
    entry.shape = parse_shape(name, required_field(name, value, "shape"));
    parse_offsets(entry, required_field(name, value, "data_offsets"), sections);
    check_size_matches_offsets(entry);
    return entry;
}

// Empty tensors own no bytes, so they cannot overlap anything.
void reject_overlaps(std::vector<TensorEntry> entries) {
    entries.erase(std::remove_if(entries.begin(), entries.end(), [](const TensorEntry& e) { return e.begin == e.end; }),
                  entries.end());
    std::sort(entries.begin(), entries.end(),
              [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
    for (size_t i = 1; i < entries.size(); ++i) {
        if (entries[i].begin < entries[i - 1].end)
            throw Error(tensor_label(entries[i].name) + " and " + tensor_label(entries[i - 1].name) +
                        " overlap in the data section at byte " + std::to_string(entries[i].begin));
    }
}

// BF16 becomes F32 here, so the rest of the engine sees one floating dtype.
Tensor decode(const TensorEntry& entry, const uint8_t* data) {
    const uint8_t* source = data + entry.begin;
    const size_t count = size_t((entry.end - entry.begin) / item_size(entry.dtype));
    Tensor tensor;
    tensor.shape = entry.shape;
    tensor.dtype = entry.dtype == DType::I64 ? DType::I64 : DType::F32;
    if (entry.dtype == DType::I64) {
        tensor.integers.resize(count);
        if (count) std::memcpy(tensor.integers.data(), source, count * sizeof(int64_t));
    } else if (entry.dtype == DType::F32) {
        tensor.values.resize(count);
        if (count) std::memcpy(tensor.values.data(), source, count * sizeof(float));
    } else {
        tensor.values.resize(count);
        for (size_t i = 0; i < count; ++i) {
            uint16_t half;
            std::memcpy(&half, source + 2 * i, sizeof half);
            tensor.values[i] = from_bf16(half);
        }
    }
    return tensor;
}

void check_storage(const std::string& name, const Tensor& tensor) {
    if (name == kMetadataKey) throw Error("cannot serialise a tensor named '__metadata__': the name is reserved");
    const size_t stored = tensor.dtype == DType::I64 ? tensor.integers.size() : tensor.values.size();
    if (stored != uint64_t(tensor.numel()))
        throw Error("cannot serialise " + tensor_label(name) + ": shape " + tensor.shape_string() + " needs " +
                    std::to_string(tensor.numel()) + " elements, it holds " + std::to_string(stored));
}

// Keys in insertion order: __metadata__ first, then tensors by name, as TensorMap iterates.
std::string header_text(const SafetensorsFile& file) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!file.metadata.empty()) header[kMetadataKey] = file.metadata;
    uint64_t offset = 0;
    for (const auto& [name, tensor] : file.tensors) {
        check_storage(name, tensor);
        const uint64_t bytes = uint64_t(tensor.numel()) * item_size(tensor.dtype);
        header[name] = {{"dtype", dtype_name(tensor.dtype)},
                        {"shape", tensor.shape},
                        {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {
        throw Error(std::string("cannot serialise the header (names and metadata must be UTF-8): ") + e.what());
    }
    // Spaces keep the header valid JSON while aligning the data that follows.
    text.append((kHeaderAlignment - text.size() % kHeaderAlignment) % kHeaderAlignment, ' ');
    return text;
}

void append_data(std::vector<uint8_t>& out, const Tensor& tensor) {
    const auto append_raw = [&out](const void* data, size_t size) {
        const auto* first = static_cast<const uint8_t*>(data);
        out.insert(out.end(), first, first + size);
    };
    if (tensor.dtype == DType::I64) {
        append_raw(tensor.integers.data(), tensor.integers.size() * sizeof(int64_t));
    } else if (tensor.dtype == DType::F32) {
        append_raw(tensor.values.data(), tensor.values.size() * sizeof(float));
    } else {
        for (float value : tensor.values) {
            const uint16_t half = to_bf16(value);  // nearest, ties to even, as PyTorch rounds
            append_raw(&half, sizeof half);
        }
    }
}

}  // namespace

SafetensorsFile parse_safetensors(const std::vector<uint8_t>& bytes) {
    const Sections sections = locate_sections(bytes);
    const json header = parse_header(bytes, sections);
    SafetensorsFile file;
    std::vector<TensorEntry> entries;
    for (const auto& [name, value] : header.items()) {
        if (name == kMetadataKey) file.metadata = parse_metadata(value);
        else entries.push_back(parse_entry(name, value, sections));
    }
    reject_overlaps(entries);
    const uint8_t* data = bytes.data() + sections.data_start;
    for (const TensorEntry& entry : entries) file.tensors.emplace(entry.name, decode(entry, data));
    return file;
}

// The file and its decoded tensors are in memory together.
SafetensorsFile read_safetensors(const std::string& path) {
    const std::vector<uint8_t> bytes = read_regular_file(path, memory_limit() / 2,
                                                         "half the memory limit (the file and "
                                                         "its tensors are held together)");
    try {
        return parse_safetensors(bytes);
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
}

std::vector<uint8_t> serialize_safetensors(const SafetensorsFile& file) {
    const std::string header = header_text(file);
    std::vector<uint8_t> out;
    for (uint64_t i = 0, length = header.size(); i < kLengthBytes; ++i) out.push_back(uint8_t(length >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    for (const auto& named : file.tensors) append_data(out, named.second);
    return out;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
    write_file_atomically(path, serialize_safetensors(file));
}

}  // namespace stepscope

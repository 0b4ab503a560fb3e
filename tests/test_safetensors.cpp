// Safetensors I/O: round trips, the reference's golden files, damaged files with clear errors, and a fuzz loop.
#include <QtTest>

#include <QTemporaryDir>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "stepscope/error.h"
#include "stepscope/safetensors.h"
#include "test_support.h"

using namespace stepscope;
using testing::error_of;
using testing::bytes_of;

namespace {

// A file with the given header text (unpadded) followed by `data_bytes` zero bytes.
std::vector<uint8_t> file_with_header(const std::string& header, size_t data_bytes) {
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.resize(bytes.size() + data_bytes, 0);
    return bytes;
}

std::vector<uint8_t> length_only(uint64_t length, size_t following) {
    std::vector<uint8_t> bytes(8 + following, ' ');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = uint8_t(length >> (8 * i));
    return bytes;
}

QByteArray as_bytes(const std::vector<uint8_t>& bytes) {
    return QByteArray(reinterpret_cast<const char*>(bytes.data()), qsizetype(bytes.size()));
}

std::string header_of(const std::vector<uint8_t>& bytes) {
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[size_t(i)];
    return std::string(bytes.begin() + 8, bytes.begin() + 8 + long(length));
}

SafetensorsFile sample_file() {
    SafetensorsFile file;
    file.tensors["weight"] = Tensor::f32({2, 3}, {1.5f, -2.0f, 0.0f, 3.25f, -0.0f, 1e-30f});
    file.tensors["lengths"] = Tensor::i64({3}, {7, -4, std::numeric_limits<int64_t>::max()});
    file.tensors["scalar"] = Tensor::f32({}, {42.0f});
    file.tensors["empty"] = Tensor::f32_zeros({0, 4});
    file.metadata["config"] = "{\"n_layers\": 2}";
    file.metadata["note"] = "ünïcode, \"quotes\"\nand a newline";
    return file;
}

// Bit patterns, so that -0.0 and denormals must survive exactly.
std::vector<uint32_t> bits_of(const std::vector<float>& values) {
    std::vector<uint32_t> bits(values.size());
    for (size_t i = 0; i < values.size(); ++i) std::memcpy(&bits[i], &values[i], sizeof bits[i]);
    return bits;
}

void compare_files(const SafetensorsFile& actual, const SafetensorsFile& expected) {
    QCOMPARE(actual.metadata, expected.metadata);
    QCOMPARE(actual.tensors.size(), expected.tensors.size());
    for (const auto& [name, tensor] : expected.tensors) {
        const auto found = actual.tensors.find(name);
        QVERIFY2(found != actual.tensors.end(), name.c_str());
        QCOMPARE(found->second.dtype, tensor.dtype);
        QCOMPARE(found->second.shape, tensor.shape);
        QCOMPARE(found->second.integers, tensor.integers);
        QCOMPARE(bits_of(found->second.values), bits_of(tensor.values));
    }
}

// One random damage: flipped bytes anywhere, a cut, garbage in the header, or a new header length.
std::vector<uint8_t> mutated(const std::vector<uint8_t>& original, std::mt19937& rng) {
    static const char kJsonish[] = "{}[]\",:0123456789-+.eE \\u\"F32I64BF16";
    std::vector<uint8_t> bytes = original;
    const size_t header_end = 8 + header_of(original).size();
    const auto anywhere = [&](size_t end) { return std::uniform_int_distribution<size_t>(0, end - 1)(rng); };
    switch (rng() % 4) {
        case 0:
            for (int flips = 1 + int(rng() % 8); flips > 0; --flips)
                bytes[anywhere(bytes.size())] ^= uint8_t(1 + rng() % 255);
            break;
        case 1: bytes.resize(anywhere(bytes.size())); break;
        case 2:
            for (int writes = 1 + int(rng() % 6); writes > 0; --writes)
                bytes[8 + anywhere(header_end - 8)] = uint8_t(kJsonish[rng() % (sizeof kJsonish - 1)]);
            break;
        default: bytes[anywhere(8)] = uint8_t(rng()); break;
    }
    return bytes;
}

}  // namespace

class SafetensorsTest : public QObject {
    Q_OBJECT
    QTemporaryDir dir_;
    std::string path(const char* name) { return (dir_.path() + "/" + name).toStdString(); }

private slots:
    void round_trip_keeps_f32_i64_and_metadata() {
        const SafetensorsFile file = sample_file();
        compare_files(parse_safetensors(serialize_safetensors(file)), file);
    }

    void header_is_aligned_with_metadata_first_and_names_in_order() {
        const std::vector<uint8_t> bytes = serialize_safetensors(sample_file());
        const std::string header = header_of(bytes);
        QCOMPARE(header.size() % 8, size_t(0));
        QVERIFY(header.rfind("{\"__metadata__\":", 0) == 0);
        const size_t empty = header.find("\"empty\""), lengths = header.find("\"lengths\""),
                     scalar = header.find("\"scalar\""), weight = header.find("\"weight\"");
        QVERIFY(empty < lengths && lengths < scalar && scalar < weight && weight != std::string::npos);
        QCOMPARE(header.back(), ' ');  // the sample's JSON is 333 bytes, so it needs padding
        QCOMPARE(header.find_last_not_of(' '), header.rfind('}'));  // and only spaces pad it
    }

    void bf16_is_rounded_on_write_and_widened_to_f32_on_read() {
        SafetensorsFile file;
        const float one_and_half_ulp = 1.0f + std::ldexp(1.0f, -8);          // tie: rounds to even, 1.0
        const float one_and_three_halves = 1.0f + 3 * std::ldexp(1.0f, -8);  // tie: rounds to even, 1 + 2^-6
        Tensor tensor = Tensor::f32({5}, {1.0f, -2.5f, one_and_half_ulp, one_and_three_halves,
                                          std::numeric_limits<float>::quiet_NaN()});
        tensor.dtype = DType::BF16;
        file.tensors["half"] = tensor;
        const std::vector<uint8_t> bytes = serialize_safetensors(file);
        QVERIFY(header_of(bytes).find("\"BF16\"") != std::string::npos);
        QCOMPARE(bytes.size(), 8 + header_of(bytes).size() + 10);
        QCOMPARE(bytes[bytes.size() - 10], uint8_t(0x80));  // 1.0 is 0x3F80, little-endian
        QCOMPARE(bytes[bytes.size() - 9], uint8_t(0x3F));
        const Tensor loaded = parse_safetensors(bytes).tensors.at("half");
        QCOMPARE(loaded.dtype, DType::F32);
        QCOMPARE(loaded.shape, std::vector<int64_t>{5});
        QCOMPARE(loaded.values[0], 1.0f);
        QCOMPARE(loaded.values[1], -2.5f);
        QCOMPARE(loaded.values[2], 1.0f);
        QCOMPARE(loaded.values[3], 1.0f + std::ldexp(1.0f, -6));
        QVERIFY(std::isnan(loaded.values[4]));
    }

    void write_then_read_replaces_the_file_atomically() {
        const std::string target = path("round.safetensors");
        write_safetensors(target, SafetensorsFile{});
        write_safetensors(target, sample_file());
        compare_files(read_safetensors(target), sample_file());
        QVERIFY(!QFile::exists(QString::fromStdString(target + ".tmp")));
    }

    // The old writer used the fixed name `path`.tmp and so replaced whatever file had it.
    void a_file_named_like_a_temporary_survives_and_no_temporary_is_left() {
        QVERIFY(QDir(dir_.path()).mkpath("beside"));
        const std::string target = path("beside/out.safetensors");
        const QString bystander = QString::fromStdString(target + ".tmp");
        QFile file(bystander);
        QVERIFY(file.open(QIODevice::WriteOnly) && file.write("not yours") == 9);
        file.close();
        write_safetensors(target, sample_file());
        compare_files(read_safetensors(target), sample_file());
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.readAll(), QByteArray("not yours"));
        QCOMPARE(QDir(dir_.path() + "/beside").entryList(QDir::Files | QDir::Hidden),
                 QStringList({"out.safetensors", "out.safetensors.tmp"}));
    }

    void a_write_that_cannot_be_renamed_into_place_leaves_no_temporary() {
        QVERIFY(QDir(dir_.path()).mkpath("blocked/out.safetensors/inside"));
        const std::string target = path("blocked/out.safetensors");
        const QString message = error_of([&] { write_safetensors(target, sample_file()); });
        QVERIFY2(message.contains(QString::fromStdString("cannot write " + target)), qPrintable(message));
        QCOMPARE(QDir(dir_.path() + "/blocked").entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot),
                 QStringList({"out.safetensors"}));
    }

    void unreadable_and_unwritable_paths_are_named() {
        const std::string absent = path("absent.safetensors");
        const QString read_message = error_of([&] { read_safetensors(absent); });
        QVERIFY2(read_message.contains(QString::fromStdString("cannot open " + quote_text(absent))),
                 qPrintable(read_message));
        const QString folder_message = error_of([&] { read_safetensors(dir_.path().toStdString()); });
        QVERIFY2(folder_message.contains("cannot open"), qPrintable(folder_message));
        const std::string nowhere = path("no/such/folder/out.safetensors");
        const QString write_message = error_of([&] { write_safetensors(nowhere, sample_file()); });
        QVERIFY2(write_message.contains(QString::fromStdString(nowhere)), qPrintable(write_message));
    }

    void inconsistent_tensors_are_not_serialised() {
        SafetensorsFile file;
        file.tensors["short"].shape = {2, 2};
        file.tensors["short"].values = {1.0f};
        const QString message = error_of([&] { serialize_safetensors(file); });
        QVERIFY2(message.contains("'short'") && message.contains("needs 4"), qPrintable(message));
        QVERIFY(error_of([] { Tensor::f32({-1}, {}); }).contains("negative"));
        QVERIFY(error_of([] { Tensor::i64({3}, {1, 2}); }).contains("needs 3"));
    }

    void golden_model_has_reference_names_and_config() {
        const SafetensorsFile file = read_safetensors(testing::golden_path("enc_linear", "model.safetensors"));
        const Tensor& weight = file.tensors.at("layers.0.linear1.weight");
        QCOMPARE(weight.dtype, DType::F32);
        QCOMPARE(weight.shape, (std::vector<int64_t>{48, 24}));
        QCOMPARE(weight.values.size(), size_t(48 * 24));
        QCOMPARE(weight.shape_string(), std::string("(48, 24)"));
        QVERIFY(file.metadata.count("config"));
        compare_files(parse_safetensors(serialize_safetensors(file)), file);
    }

    void golden_io_has_memory_lengths() {
        const SafetensorsFile io = read_safetensors(testing::golden_path("dec_linear", "io.safetensors"));
        const Tensor& lengths = io.tensors.at("memory_lengths");
        QCOMPARE(lengths.dtype, DType::I64);
        QCOMPARE(lengths.shape, std::vector<int64_t>{2});
        QCOMPARE(lengths.integers, (std::vector<int64_t>{7, 4}));
    }

    void damaged_bytes_name_the_problem_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("clue");
        const std::vector<uint8_t> golden = bytes_of(testing::golden_path("enc_linear", "model.safetensors"));
        const std::vector<uint8_t> half(golden.begin(), golden.begin() + long(golden.size() / 2));
        const auto row = [](const char* name, const std::vector<uint8_t>& bytes, const char* clue) {
            QTest::newRow(name) << as_bytes(bytes) << QString::fromUtf8(clue);
        };
        const auto tensor = [](const std::string& fields, size_t data_bytes) {
            return file_with_header("{\"w\":{" + fields + "}}", data_bytes);
        };
        row("empty file", {}, "file is 0 bytes, shorter than the 8-byte header length at offset 0");
        row("shorter than 8 bytes", {1, 2, 3, 4, 5}, "file is 5 bytes");
        row("header length past the end", length_only(1000, 10), "header length 1000 (bytes 0-7) runs past the end");
        row("header length past the limit", length_only(100'000'001, 10), "exceeds the 100000000-byte limit");
        row("truncated data", half, "run past the end of the data section");
        row("malformed json", file_with_header("{\"w\": {\"dtype\": \"F32\",", 0),
            "malformed JSON header at file byte offset");
        row("json not an object", file_with_header("[1, 2]", 0), "is array, not an object");
        row("dtype F16", tensor(R"("dtype":"F16","shape":[2],"data_offsets":[0,4])", 4),
            "tensor 'w' has unsupported dtype 'F16'");
        row("dtype XYZ", tensor(R"("dtype":"XYZ","shape":[2],"data_offsets":[0,4])", 4), "unsupported dtype 'XYZ'");
        row("dtype not a string", tensor(R"("dtype":7,"shape":[2],"data_offsets":[0,8])", 8), "dtype must be a string");
        row("shape and offsets disagree", tensor(R"("dtype":"F32","shape":[2,3],"data_offsets":[0,20])", 24),
            "which is 24 bytes, but its data_offsets [0, 20] span 20");
        row("offsets past the end", tensor(R"("dtype":"F32","shape":[2,3],"data_offsets":[0,24])", 16),
            "tensor 'w': data_offsets [0, 24] run past the end");
        row("offsets reversed", tensor(R"("dtype":"F32","shape":[0],"data_offsets":[8,0])", 8),
            "end before they begin");
        row("offsets not a pair", tensor(R"("dtype":"F32","shape":[1],"data_offsets":[0])", 4),
            "data_offsets must be two");
        row("negative offset", tensor(R"("dtype":"F32","shape":[1],"data_offsets":[-4,0])", 4),
            "data_offsets must be two");
        row("negative dimension", tensor(R"("dtype":"F32","shape":[-2],"data_offsets":[0,8])", 8),
            "tensor 'w' has negative dimension -2");
        row("fractional dimension", tensor(R"("dtype":"F32","shape":[2.5],"data_offsets":[0,8])", 8),
            "shape entries must be integers");
        row("dimension past int64", tensor(R"("dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,8])", 8),
            "too large to address");
        row("byte size overflows", tensor(R"("dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8])", 8),
            "too many bytes to count");
        row("product wraps to the offsets",
            tensor(R"("dtype":"I64","shape":[2305843009213693953],"data_offsets":[0,8])", 8),
            "too many bytes to count");
        row("missing dtype", tensor(R"("shape":[1],"data_offsets":[0,4])", 4), "tensor 'w' has no 'dtype'");
        row("entry not an object", file_with_header(R"({"w":5})", 0), "tensor 'w' must be an object");
        row("overlapping tensors",
            file_with_header(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                             R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                             24),
            "tensor 'b' and tensor 'a' overlap in the data section at byte 8");
        row("metadata not an object", file_with_header(R"({"__metadata__":3})", 0), "__metadata__ must be an object");
        row("metadata value not a string", file_with_header(R"({"__metadata__":{"k":1}})", 0),
            "__metadata__ value for key 'k' must be a string");
        row("deeply nested json", file_with_header(std::string(100000, '[') + std::string(100000, ']'), 0),
            "nests deeper than the 3 levels");
        row("nested shape", tensor(R"("dtype":"F32","shape":[[2]],"data_offsets":[0,8])", 8), "nests deeper");
    }

    void damaged_bytes_name_the_problem() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, clue);
        const std::vector<uint8_t> input(bytes.begin(), bytes.end());
        const QString message = error_of([&] { parse_safetensors(input); });
        QVERIFY2(message.contains(clue), qPrintable("message: " + message));
    }

    void damaged_golden_file_is_named_with_its_path() {
        std::vector<uint8_t> bytes = bytes_of(testing::golden_path("enc_linear", "model.safetensors"));
        bytes.resize(bytes.size() / 2);
        const std::string target = path("half.safetensors");
        std::ofstream(target, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), long(bytes.size()));
        const QString message = error_of([&] { read_safetensors(target); });
        QVERIFY2(message.startsWith(QString::fromStdString(target + ": ")), qPrintable(message));
    }

    // Every mutation of a real file either parses or throws Error; nothing else escapes.
    void fuzzed_golden_bytes_parse_or_throw_error() {
        const std::vector<std::vector<uint8_t>> originals = {
            bytes_of(testing::golden_path("enc_linear", "model.safetensors")),
            bytes_of(testing::golden_path("dec_linear", "io.safetensors")), serialize_safetensors(sample_file())};
        for (const auto& original : originals) QVERIFY2(original.size() > 8, "a golden file is missing or empty");
        std::mt19937 rng(20240607);
        int parsed = 0, rejected = 0;
        for (int iteration = 0; iteration < 2000; ++iteration) {
            const std::vector<uint8_t> bytes = mutated(originals[size_t(iteration) % originals.size()], rng);
            try {
                parse_safetensors(bytes);
                ++parsed;
            } catch (const Error&) {
                ++rejected;
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("iteration %1 threw a non-Error: %2").arg(iteration).arg(e.what())));
            } catch (...) {
                QFAIL(qPrintable(QString("iteration %1 threw a non-exception").arg(iteration)));
            }
        }
        // Both outcomes must occur, or the mutations are not exercising the parser.
        QVERIFY2(parsed > 100 && rejected > 100,
                 qPrintable(QString("parsed %1, rejected %2").arg(parsed).arg(rejected)));
    }
};

QTEST_APPLESS_MAIN(SafetensorsTest)
#include "test_safetensors.moc"

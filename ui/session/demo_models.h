// The demo models shipped in resources/models: where they are, one line on each, and the input a run of one starts
// with.
#pragma once

#include <QList>
#include <QString>

#include <map>
#include <string>

#include "session/session_spec.h"

namespace stepscope::ui {

struct DemoModel {
    QString path;
    QString name;         // the file name without .safetensors
    QString description;  // one line: task, attention, what PyTorch measured
};

// The folder of the shipped demos: installed (share/stepscope/models beside the binary's bin/), or in
// the source tree the binary was built from; empty when neither exists.
QString demo_models_folder();
// The demos there, by name; a file that cannot be read is listed with the reason as its description.
QList<DemoModel> demo_models();

// A token model's file metadata -> one line ("associative recall, softmax attention; accuracy 1.000").
QString describe_token_model(const std::map<std::string, std::string>& metadata);
// Whether a model file's metadata names a vocabulary, so that it takes token input.
bool is_token_model(const std::map<std::string, std::string>& metadata);
// The token input a run of the model starts with, keeping `input`'s seed: a fresh recall instance of
// 32 pairs for the recall task, else a prompt ("And God said" for characters).
InputSpec default_token_input(const std::map<std::string, std::string>& metadata, const InputSpec& input);

// The steps of one recall instance of `pairs` pairs: the pairs, then the task's queries.
int recall_instance_steps(const std::map<std::string, std::string>& metadata, int pairs);

}  // namespace stepscope::ui

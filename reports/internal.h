// What the writers of report.cc and explore_report.cc share; not part of the model's API.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/report.h"

namespace ithappens::reports::internal {

std::string Escape(const std::string& s);  // for HTML and XML text and attributes
std::string Fmt(double v);                 // one decimal
std::string Join(const std::vector<std::string>& items);
nlohmann::json CounterexampleToJson(const Counterexample& c);
Counterexample CounterexampleFromJson(const nlohmann::json& c);
// One counterexample as an HTML list item, with its task's events in a fold.
std::string CounterexampleHtml(const std::string& property, const Counterexample& c);
// <!doctype html> ... <body>: the pages' one style.
std::string PageHead(const std::string& title);
// Writes each (name, text) into dir; false if one could not be written.
bool WriteFiles(const std::string& dir,
                const std::vector<std::pair<const char*, std::string>>& files);

}  // namespace ithappens::reports::internal

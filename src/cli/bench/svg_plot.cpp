// render_svg: a small hand-written SVG chart, no plotting library.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/bench/report.h"
#include "platform/error.h"

namespace tandem::bench {
namespace {

constexpr double kWidth = 720;
constexpr double kPanelHeight = 250;
constexpr double kLeft = 80;    // room for y tick labels
constexpr double kRight = 150;  // room for the legend
constexpr double kTop = 50;
constexpr double kGap = 70;  // between the panels, for the x labels of the first

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double value) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.1f", value);
  return out;
}

std::string tick_label(double value) {
  char out[32];
  if (value >= 10 || value == 0) {
    std::snprintf(out, sizeof(out), "%.0f", value);
  } else {
    std::snprintf(out, sizeof(out), "%.2g", value);
  }
  return out;
}

// A round step (1, 2 or 5 times a power of ten) giving about five ticks up to `max`.
double tick_step(double max) {
  if (!(max > 0)) return 1;
  const double raw = max / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

struct Series {
  std::string name;
  std::string color;
  std::vector<double> values;  // one per level; NaN where there is none
};

void draw_panel(std::string& svg, double top, const std::string& title, const std::string& unit,
                const std::vector<std::string>& x_labels, const std::vector<Series>& series,
                const std::string& x_title) {
  const double plot_width = kWidth - kLeft - kRight;
  double max = 0;
  for (const Series& s : series) {
    for (double v : s.values) {
      if (std::isfinite(v)) max = std::max(max, v);
    }
  }
  const double step = tick_step(max);
  const double y_max = std::max(step, std::ceil(max / step) * step);
  const size_t n = x_labels.size();
  auto x_at = [&](size_t i) { return kLeft + (static_cast<double>(i) + 0.5) * plot_width / n; };
  auto y_at = [&](double v) { return top + kPanelHeight * (1 - v / y_max); };

  svg += str_cat("<text x=\"", num(kLeft), "\" y=\"", num(top - 12),
                 "\" font-size=\"14\" font-weight=\"bold\">", xml_escape(title), "</text>\n");
  for (double v = 0; v <= y_max * 1.0001; v += step) {
    const double y = y_at(v);
    svg += str_cat("<line x1=\"", num(kLeft), "\" y1=\"", num(y), "\" x2=\"",
                   num(kLeft + plot_width), "\" y2=\"", num(y), "\" stroke=\"#ddd\"/>\n");
    svg += str_cat("<text x=\"", num(kLeft - 6), "\" y=\"", num(y + 4),
                   "\" font-size=\"11\" text-anchor=\"end\">", tick_label(v), "</text>\n");
  }
  svg += str_cat("<rect x=\"", num(kLeft), "\" y=\"", num(top), "\" width=\"", num(plot_width),
                 "\" height=\"", num(kPanelHeight), "\" fill=\"none\" stroke=\"#444\"/>\n");
  svg += str_cat("<text transform=\"translate(", num(kLeft - 52), " ", num(top + kPanelHeight / 2),
                 ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\">", xml_escape(unit),
                 "</text>\n");
  for (size_t i = 0; i < n; ++i) {
    svg += str_cat("<text x=\"", num(x_at(i)), "\" y=\"", num(top + kPanelHeight + 16),
                   "\" font-size=\"11\" text-anchor=\"middle\">", xml_escape(x_labels[i]),
                   "</text>\n");
  }
  svg += str_cat("<text x=\"", num(kLeft + plot_width / 2), "\" y=\"", num(top + kPanelHeight + 34),
                 "\" font-size=\"12\" text-anchor=\"middle\">", xml_escape(x_title), "</text>\n");
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    std::string points;
    for (size_t i = 0; i < n && i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      if (!points.empty()) points += ' ';
      points += num(x_at(i)) + "," + num(y_at(s.values[i]));
    }
    svg += str_cat("<polyline fill=\"none\" stroke=\"", s.color, "\" stroke-width=\"2\" points=\"",
                   points, "\"/>\n");
    for (size_t i = 0; i < n && i < s.values.size(); ++i) {
      if (!std::isfinite(s.values[i])) continue;
      svg += str_cat("<circle cx=\"", num(x_at(i)), "\" cy=\"", num(y_at(s.values[i])),
                     "\" r=\"3.5\" fill=\"", s.color, "\"><title>", xml_escape(s.name), " at ",
                     xml_escape(x_labels[i]), ": ", num(s.values[i]), "</title></circle>\n");
    }
    const double legend_y = top + 14 + 18 * static_cast<double>(k);
    const double legend_x = kLeft + plot_width + 14;
    svg += str_cat("<line x1=\"", num(legend_x), "\" y1=\"", num(legend_y - 4), "\" x2=\"",
                   num(legend_x + 18), "\" y2=\"", num(legend_y - 4), "\" stroke=\"", s.color,
                   "\" stroke-width=\"2\"/>\n");
    svg += str_cat("<text x=\"", num(legend_x + 24), "\" y=\"", num(legend_y),
                   "\" font-size=\"11\">", xml_escape(s.name), "</text>\n");
  }
}

}  // namespace

std::string render_svg(const BenchResult& result) {
  std::vector<std::string> x_labels;
  Series tok_s{"output tok/s", "#1f77b4", {}};
  Series ttft{"TTFT p95", "#d62728", {}};
  Series e2e{"end-to-end p95", "#2ca02c", {}};
  for (const LevelResult& level : result.levels) {
    x_labels.push_back(level.rate > 0 ? str_cat(num(level.rate), "/s")
                                      : std::to_string(level.concurrency));
    tok_s.values.push_back(level.output_tok_s);
    ttft.values.push_back(level.ttft_s.p95 * 1000);
    e2e.values.push_back(level.e2e_s.p95 * 1000);
  }
  const bool open_loop = result.options.rate > 0;
  const std::string x_title = open_loop ? "request rate (Poisson)" : "concurrent clients";
  const double height = kTop + 2 * kPanelHeight + kGap + 50;
  std::string svg = str_cat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", num(kWidth), "\" height=\"",
      num(height), "\" viewBox=\"0 0 ", num(kWidth), " ", num(height),
      "\" font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  svg +=
      str_cat("<text x=\"", num(kWidth / 2), "\" y=\"20\" font-size=\"13\" text-anchor=\"middle\">",
              xml_escape(str_cat(result.model, ", prompt ~", result.options.prompt_tokens,
                                 " tokens, ", result.options.max_tokens, " output tokens")),
              "</text>\n");
  draw_panel(svg, kTop + 10, "Aggregate output throughput", "tokens / s", x_labels, {tok_s},
             x_title);
  draw_panel(svg, kTop + 10 + kPanelHeight + kGap, "p95 latency", "milliseconds", x_labels,
             {ttft, e2e}, x_title);
  svg += "</svg>\n";
  return svg;
}

}  // namespace tandem::bench

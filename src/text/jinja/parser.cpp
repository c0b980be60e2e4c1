#include "text/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <string_view>

#include "platform/error.h"

namespace tandem::jinja {
namespace {

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  NodeList parse_template() {
    std::string end;
    NodeList body = parse_body({}, &end);
    return body;
  }

 private:
  // Counts recursion; every recursive path of the parser passes through one of these.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxParseDepth)
        parser_.fail(parser_.peek(), "template nested too deeply");
    }
    ~DepthGuard() { --parser_.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;

   private:
    Parser& parser_;
  };

  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& token = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return token;
  }
  bool at_operator(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kOperator && peek(ahead).value == op;
  }
  bool at_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kName && peek(ahead).value == name;
  }
  bool skip_operator(std::string_view op) {
    if (!at_operator(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& token) {
    switch (token.type) {
      case TokenType::kText:
        return "text";
      case TokenType::kVariableBegin:
        return "'{{'";
      case TokenType::kVariableEnd:
        return "'}}'";
      case TokenType::kBlockBegin:
        return "'{%'";
      case TokenType::kBlockEnd:
        return "'%}'";
      case TokenType::kString:
        return "string literal";
      case TokenType::kEnd:
        return "end of template";
      default:
        return "'" + token.value + "'";
    }
  }

  [[noreturn]] void fail(const Token& token, const std::string& message) const {
    throw Error(str_cat("template:", token.line, ":", token.column, ": ", message));
  }

  void expect_operator(std::string_view op) {
    if (!skip_operator(op)) fail(peek(), str_cat("expected '", op, "', got ", describe(peek())));
  }
  void expect(TokenType type, const char* what) {
    if (peek().type != type) fail(peek(), str_cat("expected ", what, ", got ", describe(peek())));
    next();
  }
  void expect_block_end() { expect(TokenType::kBlockEnd, "'%}'"); }
  std::string expect_name() {
    if (peek().type != TokenType::kName)
      fail(peek(), str_cat("expected a name, got ", describe(peek())));
    return next().value;
  }

  ExprPtr make(Expr::Kind kind, const Token& at, std::string name = {}) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->line = at.line;
    expr->column = at.column;
    expr->name = std::move(name);
    return expr;
  }
  // Adds a child, keeping the subtree height bounded (long operator chains nest deeply).
  void add_child(Expr& parent, ExprPtr child) {
    if (child) {
      parent.depth = std::max(parent.depth, child->depth + 1);
      if (parent.depth > kMaxParseDepth) fail(peek(), "expression nested too deeply");
    }
    parent.children.push_back(std::move(child));
  }
  ExprPtr binary(const Token& at, std::string op, ExprPtr left, ExprPtr right) {
    ExprPtr expr = make(Expr::Kind::kBinary, at, std::move(op));
    add_child(*expr, std::move(left));
    add_child(*expr, std::move(right));
    return expr;
  }

  // ---- statements ----

  // Parses until `{% <one of end_tags>` and consumes those two tokens.
  NodeList parse_body(std::initializer_list<std::string_view> end_tags, std::string* found) {
    DepthGuard guard(*this);
    NodeList body;
    while (true) {
      const Token& token = peek();
      if (token.type == TokenType::kEnd) {
        if (end_tags.size() != 0) {
          fail(token,
               str_cat("unexpected end of template, expected '", *(end_tags.end() - 1), "'"));
        }
        return body;
      }
      if (token.type == TokenType::kText) {
        auto node = make_node(Node::Kind::kText, token);
        node->text = next().value;
        body.push_back(std::move(node));
      } else if (token.type == TokenType::kVariableBegin) {
        auto node = make_node(Node::Kind::kOutput, next());
        node->expr = parse_tuple(true);
        expect(TokenType::kVariableEnd, "'}}'");
        body.push_back(std::move(node));
      } else if (token.type == TokenType::kBlockBegin) {
        const Token& keyword = peek(1);
        if (keyword.type == TokenType::kName &&
            std::find(end_tags.begin(), end_tags.end(), keyword.value) != end_tags.end()) {
          next();
          *found = next().value;
          return body;
        }
        next();
        parse_statement(body);
      } else {
        fail(token, str_cat("unexpected ", describe(token)));
      }
    }
  }

  std::unique_ptr<Node> make_node(Node::Kind kind, const Token& at) {
    auto node = std::make_unique<Node>();
    node->kind = kind;
    node->line = at.line;
    node->column = at.column;
    return node;
  }

  void parse_statement(NodeList& body) {
    const Token& keyword = peek();
    std::string name = expect_name();
    std::string end;
    if (name == "if") {
      auto node = make_node(Node::Kind::kIf, keyword);
      ExprPtr condition = parse_expression();
      expect_block_end();
      while (true) {
        NodeList branch = parse_body({"elif", "else", "endif"}, &end);
        node->branches.emplace_back(std::move(condition), std::move(branch));
        if (end == "elif") {
          condition = parse_expression();
          expect_block_end();
          continue;
        }
        if (end == "else") {
          expect_block_end();
          node->else_body = parse_body({"endif"}, &end);
        }
        break;
      }
      expect_block_end();
      body.push_back(std::move(node));
    } else if (name == "for") {
      auto node = make_node(Node::Kind::kFor, keyword);
      node->targets = parse_targets();
      if (!skip_name("in")) fail(peek(), str_cat("expected 'in', got ", describe(peek())));
      node->expr = parse_tuple(false);
      if (skip_name("if")) node->condition = parse_expression();
      if (at_name("recursive")) fail(peek(), "recursive loops are not supported");
      expect_block_end();
      node->body = parse_body({"else", "endfor"}, &end);
      if (end == "else") {
        expect_block_end();
        node->else_body = parse_body({"endfor"}, &end);
      }
      expect_block_end();
      body.push_back(std::move(node));
    } else if (name == "set") {
      parse_set(keyword, body);
    } else if (name == "macro") {
      auto node = make_node(Node::Kind::kMacro, keyword);
      node->text = expect_name();
      node->parameters = parse_parameters();
      expect_block_end();
      node->body = parse_body({"endmacro"}, &end);
      if (peek().type == TokenType::kName) next();  // {% endmacro name %}
      expect_block_end();
      body.push_back(std::move(node));
    } else if (name == "call") {
      auto node = make_node(Node::Kind::kCallBlock, keyword);
      if (at_operator("(")) node->parameters = parse_parameters();
      node->expr = parse_expression();
      if (node->expr->kind != Expr::Kind::kCall)
        fail(keyword, "expected a macro call after 'call'");
      expect_block_end();
      node->body = parse_body({"endcall"}, &end);
      expect_block_end();
      body.push_back(std::move(node));
    } else if (name == "filter") {
      auto node = make_node(Node::Kind::kFilterBlock, keyword);
      node->expr = parse_filters(nullptr, true);
      expect_block_end();
      node->body = parse_body({"endfilter"}, &end);
      expect_block_end();
      body.push_back(std::move(node));
    } else if (name == "break" || name == "continue") {
      body.push_back(
          make_node(name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue, keyword));
      expect_block_end();
    } else if (name == "generation") {
      // transformers' assistant-mask marker: renders its body unchanged.
      expect_block_end();
      NodeList inner = parse_body({"endgeneration"}, &end);
      expect_block_end();
      for (auto& node : inner) body.push_back(std::move(node));
    } else {
      fail(keyword, str_cat("unknown tag '", name, "'"));
    }
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    bool parenthesized = skip_operator("(");
    do {
      targets.push_back(expect_name());
    } while (skip_operator(","));
    if (parenthesized) expect_operator(")");
    return targets;
  }

  void parse_set(const Token& keyword, NodeList& body) {
    auto node = make_node(Node::Kind::kSet, keyword);
    node->targets.push_back(expect_name());
    if (skip_operator(".")) {
      node->attribute = expect_name();
    } else {
      while (skip_operator(",")) node->targets.push_back(expect_name());
    }
    if (skip_operator("=")) {
      node->expr = parse_tuple(true);
      expect_block_end();
      body.push_back(std::move(node));
      return;
    }
    if (!node->attribute.empty() || node->targets.size() != 1) {
      fail(peek(), str_cat("expected '=', got ", describe(peek())));
    }
    node->kind = Node::Kind::kSetBlock;
    if (at_operator("|")) node->expr = parse_filters(nullptr, false);
    expect_block_end();
    std::string end;
    node->body = parse_body({"endset"}, &end);
    expect_block_end();
    body.push_back(std::move(node));
  }

  std::vector<MacroParameter> parse_parameters() {
    std::vector<MacroParameter> parameters;
    expect_operator("(");
    while (!at_operator(")")) {
      if (!parameters.empty()) expect_operator(",");
      if (at_operator(")")) break;
      MacroParameter parameter;
      parameter.name = expect_name();
      if (skip_operator("=")) parameter.default_value = parse_expression();
      parameters.push_back(std::move(parameter));
    }
    expect_operator(")");
    return parameters;
  }

  // ---- expressions ----

  // A comma-separated list becomes a tuple; `with_conditional` false stops before `if`.
  ExprPtr parse_tuple(bool with_conditional) {
    const Token& start = peek();
    ExprPtr first = with_conditional ? parse_expression() : parse_or();
    if (!at_operator(",")) return first;
    ExprPtr tuple = make(Expr::Kind::kTuple, start);
    add_child(*tuple, std::move(first));
    while (skip_operator(",")) {
      if (peek().type == TokenType::kBlockEnd || peek().type == TokenType::kVariableEnd ||
          at_name("if")) {
        break;
      }
      add_child(*tuple, with_conditional ? parse_expression() : parse_or());
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    const Token& start = peek();
    ExprPtr expr = parse_or();
    while (skip_name("if")) {
      ExprPtr conditional = make(Expr::Kind::kConditional, start);
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_expression() : nullptr;
      add_child(*conditional, std::move(expr));
      add_child(*conditional, std::move(condition));
      add_child(*conditional, std::move(otherwise));
      expr = std::move(conditional);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (at_name("or")) {
      const Token& op = next();
      left = binary(op, "or", std::move(left), parse_and());
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (at_name("and")) {
      const Token& op = next();
      left = binary(op, "and", std::move(left), parse_not());
    }
    return left;
  }

  ExprPtr parse_not() {
    DepthGuard guard(*this);
    if (at_name("not")) {
      ExprPtr expr = make(Expr::Kind::kUnary, next(), "not");
      add_child(*expr, parse_not());
      return expr;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    while (true) {
      const Token& op = peek();
      std::string name;
      if (op.type == TokenType::kOperator &&
          (op.value == "==" || op.value == "!=" || op.value == "<" || op.value == "<=" ||
           op.value == ">" || op.value == ">=")) {
        name = next().value;
      } else if (at_name("in")) {
        next();
        name = "in";
      } else if (at_name("not") && at_name("in", 1)) {
        next();
        next();
        name = "not in";
      } else {
        return left;
      }
      left = binary(op, name, std::move(left), parse_math1());
    }
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (at_operator("+") || at_operator("-")) {
      const Token& op = next();
      left = binary(op, op.value, std::move(left), parse_concat());
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (at_operator("~")) {
      const Token& op = next();
      left = binary(op, "~", std::move(left), parse_math2());
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (at_operator("*") || at_operator("/") || at_operator("//") || at_operator("%")) {
      const Token& op = next();
      left = binary(op, op.value, std::move(left), parse_pow());
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (at_operator("**")) {
      const Token& op = next();
      left = binary(op, "**", std::move(left), parse_unary(true));
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr expr;
    if (at_operator("-") || at_operator("+")) {
      const Token& op = next();
      expr = make(Expr::Kind::kUnary, op, op.value);
      add_child(*expr, parse_unary(false));
    } else {
      expr = parse_primary();
    }
    expr = parse_postfix(std::move(expr));
    if (with_filter) expr = parse_filters(std::move(expr), false);
    return expr;
  }

  ExprPtr parse_primary() {
    const Token& token = peek();
    switch (token.type) {
      case TokenType::kName: {
        next();
        const std::string& v = token.value;
        if (v == "true" || v == "True") return literal(token, Value(true));
        if (v == "false" || v == "False") return literal(token, Value(false));
        if (v == "none" || v == "None") return literal(token, Value::none());
        return make(Expr::Kind::kName, token, v);
      }
      case TokenType::kString: {
        std::string text = next().value;
        while (peek().type == TokenType::kString) text += next().value;
        return literal(token, Value(std::move(text)));
      }
      case TokenType::kInteger:
        next();
        return literal(token, Value(integer_value(token)));
      case TokenType::kFloat:
        next();
        // strtod saturates to inf on overflow, where Python would too.
        return literal(token, Value(std::strtod(token.value.c_str(), nullptr)));
      case TokenType::kOperator:
        if (token.value == "(") return parse_parenthesized();
        if (token.value == "[") return parse_list();
        if (token.value == "{") return parse_dict();
        break;
      default:
        break;
    }
    fail(token, str_cat("unexpected ", describe(token)));
  }

  int64_t integer_value(const Token& token) const {
    int64_t value = 0;
    auto [end, error] =
        std::from_chars(token.value.data(), token.value.data() + token.value.size(), value);
    if (error != std::errc() || end != token.value.data() + token.value.size()) {
      fail(token, "integer literal out of range");
    }
    return value;
  }

  ExprPtr literal(const Token& at, Value value) {
    ExprPtr expr = make(Expr::Kind::kLiteral, at);
    expr->literal = std::move(value);
    return expr;
  }

  ExprPtr parse_parenthesized() {
    const Token& open = next();
    if (skip_operator(")")) return make(Expr::Kind::kTuple, open);
    ExprPtr first = parse_expression();
    if (!at_operator(",")) {
      expect_operator(")");
      return first;
    }
    ExprPtr tuple = make(Expr::Kind::kTuple, open);
    add_child(*tuple, std::move(first));
    while (skip_operator(",")) {
      if (at_operator(")")) break;
      add_child(*tuple, parse_expression());
    }
    expect_operator(")");
    return tuple;
  }

  ExprPtr parse_list() {
    ExprPtr list = make(Expr::Kind::kList, next());
    while (!at_operator("]")) {
      if (!list->children.empty()) expect_operator(",");
      if (at_operator("]")) break;
      add_child(*list, parse_expression());
    }
    expect_operator("]");
    return list;
  }

  ExprPtr parse_dict() {
    ExprPtr dict = make(Expr::Kind::kDict, next());
    while (!at_operator("}")) {
      if (!dict->children.empty()) expect_operator(",");
      if (at_operator("}")) break;
      add_child(*dict, parse_expression());
      expect_operator(":");
      add_child(*dict, parse_expression());
    }
    expect_operator("}");
    return dict;
  }

  ExprPtr parse_postfix(ExprPtr expr) {
    while (true) {
      const Token& token = peek();
      if (at_operator(".")) {
        next();
        const Token& member = peek();
        if (member.type == TokenType::kInteger) {
          ExprPtr index = make(Expr::Kind::kIndex, token);
          add_child(*index, std::move(expr));
          next();
          add_child(*index, literal(member, Value(integer_value(member))));
          expr = std::move(index);
          continue;
        }
        ExprPtr attribute = make(Expr::Kind::kAttribute, token, expect_name());
        add_child(*attribute, std::move(expr));
        expr = std::move(attribute);
      } else if (at_operator("[")) {
        next();
        expr = parse_subscript(token, std::move(expr));
      } else if (at_operator("(")) {
        ExprPtr call = make(Expr::Kind::kCall, token);
        call->line = expr->line;  // errors point at the callee, not at '('
        call->column = expr->column;
        add_child(*call, std::move(expr));
        parse_call_arguments(*call);
        expr = std::move(call);
      } else {
        return expr;
      }
    }
  }

  ExprPtr parse_subscript(const Token& at, ExprPtr object) {
    ExprPtr start = at_operator(":") ? nullptr : parse_expression();
    if (!at_operator(":")) {
      expect_operator("]");
      ExprPtr index = make(Expr::Kind::kIndex, at);
      add_child(*index, std::move(object));
      add_child(*index, std::move(start));
      return index;
    }
    next();
    ExprPtr stop = (at_operator(":") || at_operator("]")) ? nullptr : parse_expression();
    ExprPtr step;
    if (skip_operator(":")) step = at_operator("]") ? nullptr : parse_expression();
    expect_operator("]");
    ExprPtr slice = make(Expr::Kind::kSlice, at);
    add_child(*slice, std::move(object));
    add_child(*slice, std::move(start));
    add_child(*slice, std::move(stop));
    add_child(*slice, std::move(step));
    return slice;
  }

  // `(a, b, key=value)` appended to call->children / call->keywords.
  void parse_call_arguments(Expr& call) {
    expect_operator("(");
    bool first = true;
    while (!at_operator(")")) {
      if (!first) expect_operator(",");
      first = false;
      if (at_operator(")")) break;
      if (peek().type == TokenType::kName && at_operator("=", 1)) {
        std::string key = next().value;
        next();
        ExprPtr value = parse_expression();
        call.depth = std::max(call.depth, value->depth + 1);
        if (call.depth > kMaxParseDepth) fail(peek(), "expression nested too deeply");
        call.keywords.emplace_back(std::move(key), std::move(value));
      } else {
        if (!call.keywords.empty()) fail(peek(), "positional argument after keyword argument");
        add_child(call, parse_expression());
      }
    }
    expect_operator(")");
  }

  // `| name(args)` chains and `is [not] test args`; a block filter (`{% filter %}`) starts
  // with a filter name and takes no tests.
  ExprPtr parse_filters(ExprPtr expr, bool block_filter) {
    while (true) {
      if (at_operator("|") || (block_filter && expr == nullptr)) {
        if (at_operator("|")) next();
        const Token& name = peek();
        ExprPtr filter = make(Expr::Kind::kFilter, name, expect_name());
        add_child(*filter, std::move(expr));
        if (at_operator("(")) parse_call_arguments(*filter);
        expr = std::move(filter);
      } else if (!block_filter && at_name("is")) {
        next();
        bool negated = skip_name("not");
        const Token& name = peek();
        ExprPtr test = make(Expr::Kind::kTest, name, expect_name());
        test->negated = negated;
        add_child(*test, std::move(expr));
        if (at_operator("(")) {
          parse_call_arguments(*test);
        } else if (starts_test_argument()) {
          add_child(*test, parse_postfix(parse_primary()));
        }
        expr = std::move(test);
      } else {
        return expr;
      }
    }
  }

  bool starts_test_argument() const {
    const Token& token = peek();
    if (token.type == TokenType::kName) {
      static const char* const kStop[] = {"else", "or", "and", "if", "is", "in", "not"};
      return std::none_of(std::begin(kStop), std::end(kStop),
                          [&](const char* word) { return token.value == word; });
    }
    return token.type == TokenType::kString || token.type == TokenType::kInteger ||
           token.type == TokenType::kFloat || at_operator("[") || at_operator("{");
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

NodeList parse(const std::vector<Token>& tokens) { return Parser(tokens).parse_template(); }

}  // namespace tandem::jinja

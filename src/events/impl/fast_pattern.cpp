// A backtracking matcher for the regular-expression subset our schemas use; see
// fast_pattern.hpp. Recursion depth is bounded by the pattern's size, never by the subject's.
#include "events/impl/fast_pattern.hpp"

#include <algorithm>
#include <cctype>
#include <type_traits>

namespace orderflow::events::impl {

static_assert(std::is_trivially_destructible_v<FastPattern>);

struct FastPattern::Continuation {
    uint16_t node;
    const Continuation* next;
};

// Recursive descent over the pattern text; any construct outside the subset fails the parse.
class FastPattern::Parser final {
  public:
    Parser(std::string_view text, FastPattern& out) : text_(text), out_(out) {}

    bool Run() {
        for (const char c : text_) {
            // Non-ASCII bytes: std::regex compares signed chars in ranges; leave them to it.
            if (static_cast<unsigned char>(c) >= 0x80 || c == '\0') return false;
        }
        const auto root = Alternation();
        if (!root || pos_ != text_.size()) return false;
        out_.root_ = *root;
        out_.anchored_ = true;
        for (auto alt = out_.nodes_[*root].child; alt != kNone; alt = out_.nodes_[alt].next) {
            const auto first = out_.nodes_[alt].child;
            if (first == kNone || out_.nodes_[first].kind != Kind::kBegin) out_.anchored_ = false;
        }
        return true;
    }

  private:
    std::optional<uint16_t> Add(Kind kind) {
        if (out_.size_ >= kMaxNodes) return std::nullopt;
        out_.nodes_[out_.size_].kind = kind;
        return out_.size_++;
    }
    Node& At(uint16_t index) { return out_.nodes_[index]; }
    bool AtEnd() const { return pos_ >= text_.size(); }
    char Peek() const { return text_[pos_]; }

    // alternative ('|' alternative)*, as a group node; stops before ')' or the end.
    std::optional<uint16_t> Alternation() {
        const auto group = Add(Kind::kGroup);
        if (!group) return std::nullopt;
        uint16_t last = kNone;
        while (true) {
            const auto alt = Add(Kind::kAlternative);
            if (!alt) return std::nullopt;
            const auto head = Sequence();
            if (!head) return std::nullopt;
            At(*alt).child = *head;
            if (last == kNone) {
                At(*group).child = *alt;
            } else {
                At(last).next = *alt;
            }
            last = *alt;
            if (AtEnd() || Peek() != '|') return group;
            ++pos_;
        }
    }

    // Elements up to '|', ')' or the end, linked through `next`; kNone if empty.
    std::optional<uint16_t> Sequence() {
        uint16_t head = kNone;
        uint16_t tail = kNone;
        while (!AtEnd() && Peek() != '|' && Peek() != ')') {
            const auto element = Element();
            if (!element) return std::nullopt;
            if (tail == kNone) {
                head = *element;
            } else {
                At(tail).next = *element;
            }
            tail = *element;
        }
        return head;
    }

    std::optional<uint16_t> Element() {
        const char c = text_[pos_++];
        std::optional<uint16_t> node;
        switch (c) {
            case '^':
                return Add(Kind::kBegin);  // a quantifier after it is refused by Sequence
            case '$':
                return Add(Kind::kEnd);
            case '(': {
                if (!AtEnd() && Peek() == '?') return std::nullopt;  // (?: (?= (?!
                node = Alternation();
                if (!node || AtEnd() || Peek() != ')') return std::nullopt;
                ++pos_;
                if (!AtEnd() && Peek() == '?') {
                    ++pos_;
                    At(*node).min = 0;
                }
                if (!AtEnd() && IsQuantifier(Peek())) return std::nullopt;  // repeated group
                return node;
            }
            case '[':
                node = Add(Kind::kSet);
                if (!node || !Class(At(*node))) return std::nullopt;
                break;
            case '\\':
                node = Add(Kind::kSet);
                if (!node || AtEnd() || !IsLiteralEscape(Peek())) return std::nullopt;
                Set(At(*node), text_[pos_++]);
                break;
            case '.':
            case '*':
            case '+':
            case '?':
            case '{':
            case '}':
            case ']':
            case ')':
            case '|':
                return std::nullopt;
            default:
                node = Add(Kind::kSet);
                if (!node) return std::nullopt;
                Set(At(*node), c);
        }
        if (!Quantifier(At(*node))) return std::nullopt;
        return node;
    }

    static bool IsQuantifier(char c) { return c == '?' || c == '*' || c == '+' || c == '{'; }
    // `\` then punctuation is that character in ECMAScript; letters and digits are classes,
    // escapes and backreferences, which the subset leaves to std::regex.
    static bool IsLiteralEscape(char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; }
    static void Set(Node& node, char c) {
        const auto byte = static_cast<unsigned char>(c);
        node.bits[byte >> 6] |= uint64_t{1} << (byte & 63);
    }

    bool Quantifier(Node& node) {
        if (AtEnd() || !IsQuantifier(Peek())) return true;
        const char c = text_[pos_++];
        if (c == '?') {
            node.min = 0;
        } else if (c == '*') {
            node.min = 0;
            node.max = kUnbounded;
        } else if (c == '+') {
            node.max = kUnbounded;
        } else {
            const auto min = Number();
            if (!min || AtEnd()) return false;
            node.min = node.max = *min;
            if (Peek() == ',') {
                ++pos_;
                node.max = kUnbounded;
                if (!AtEnd() && Peek() != '}') {
                    const auto max = Number();
                    if (!max || *max < *min) return false;
                    node.max = *max;
                }
            }
            if (AtEnd() || Peek() != '}') return false;
            ++pos_;
        }
        // Lazy (`+?`) or doubled (`a**`) quantifiers: not in the subset.
        return AtEnd() || !IsQuantifier(Peek());
    }

    std::optional<uint32_t> Number() {
        uint32_t value = 0;
        const auto start = pos_;
        while (!AtEnd() && Peek() >= '0' && Peek() <= '9') {
            value = value * 10 + static_cast<uint32_t>(Peek() - '0');
            if (value > 100000) return std::nullopt;
            ++pos_;
        }
        if (pos_ == start) return std::nullopt;
        return value;
    }

    // After '[': members up to ']'. '-' is literal only first or last; ranges join two plain
    // characters in order. '[' (POSIX classes), a leading ']' and escaped range ends are
    // refused rather than guessed at.
    bool Class(Node& node) {
        bool negated = false;
        if (!AtEnd() && Peek() == '^') {
            negated = true;
            ++pos_;
        }
        bool first = true;
        while (true) {
            if (AtEnd()) return false;
            char c = text_[pos_++];
            if (c == ']') {
                if (first) return false;
                break;
            }
            if (c == '[') return false;
            bool escaped = false;
            if (c == '\\') {
                if (AtEnd() || !IsLiteralEscape(Peek())) return false;
                c = text_[pos_++];
                escaped = true;
            } else if (c == '-' && !first && !(!AtEnd() && Peek() == ']')) {
                return false;
            }
            first = false;
            if (!escaped && c != '-' && pos_ + 1 < text_.size() && Peek() == '-' &&
                text_[pos_ + 1] != ']') {
                const char last = text_[pos_ + 1];
                if (last == '\\' || last == '[' || last == '-' || last < c) return false;
                pos_ += 2;
                for (int byte = c; byte <= last; ++byte) Set(node, static_cast<char>(byte));
                continue;
            }
            Set(node, c);
        }
        if (negated) {
            for (auto& word : node.bits) word = ~word;
        }
        return true;
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    FastPattern& out_;
};

std::optional<FastPattern> FastPattern::Compile(std::string_view pattern) {
    FastPattern compiled;
    if (!Parser(pattern, compiled).Run()) return std::nullopt;
    return compiled;
}

bool FastPattern::Search(std::string_view subject) const {
    if (anchored_) return Match(root_, 0, subject, nullptr);
    for (std::size_t start = 0; start <= subject.size(); ++start) {
        if (Match(root_, start, subject, nullptr)) return true;
    }
    return false;
}

bool FastPattern::Match(uint16_t index, std::size_t pos, std::string_view subject,
                        const Continuation* then) const {
    while (true) {
        if (index == kNone) {
            if (then == nullptr) return true;
            index = then->node;
            then = then->next;
            continue;
        }
        const Node& node = nodes_[index];
        switch (node.kind) {
            case Kind::kBegin:
                if (pos != 0) return false;
                break;
            case Kind::kEnd:
                if (pos != subject.size()) return false;
                break;
            case Kind::kSet: {
                if (node.min == 1 && node.max == 1) {
                    if (pos >= subject.size() ||
                        !node.Has(static_cast<unsigned char>(subject[pos]))) {
                        return false;
                    }
                    ++pos;
                    break;
                }
                const std::size_t limit = std::min<std::size_t>(node.max, subject.size() - pos);
                std::size_t run = 0;
                while (run < limit && node.Has(static_cast<unsigned char>(subject[pos + run])))
                    ++run;
                if (run < node.min) return false;
                // Greedy, then shorter: the rest of the pattern decides.
                for (std::size_t count = run;; --count) {
                    if (Match(node.next, pos + count, subject, then)) return true;
                    if (count == node.min) return false;
                }
            }
            case Kind::kGroup: {
                const Continuation after{node.next, then};
                for (auto alt = node.child; alt != kNone; alt = nodes_[alt].next) {
                    if (Match(nodes_[alt].child, pos, subject, &after)) return true;
                }
                if (node.min != 0) return false;
                break;
            }
            case Kind::kAlternative:
                return false;  // never reached: groups walk their alternatives
        }
        index = node.next;
    }
}

}  // namespace orderflow::events::impl

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conf/ast.h"
#include "conf/lexer.h"

namespace tg::conf {
namespace {

std::vector<Directive> parse(const std::string& text) {
  return parse_text(text, "t.conf", {});
}

// The message of the ConfError that parsing `text` throws ("" if none).
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

std::vector<std::string> args_of(const Directive& d) {
  return d.args;
}

// Trees are equal in everything but source positions (a dump has its own lines).
void expect_same_tree(const std::vector<Directive>& a, const std::vector<Directive>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].name);
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].args, b[i].args);
    EXPECT_EQ(a[i].quoted, b[i].quoted);
    EXPECT_EQ(a[i].has_block, b[i].has_block);
    expect_same_tree(a[i].block, b[i].block);
  }
}

// A scratch directory for include tests, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tg-conf-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string file = path_ + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file) << text;
    return file;
  }

 private:
  std::string path_;
};

// --- words -----------------------------------------------------------------

TEST(Parser, SplitsDirectivesIntoNameAndArguments) {
  auto tree = parse("worker_processes 4;\nerror_log  /var/log/e.log\twarn ;");
  ASSERT_EQ(tree.size(), 2u);
  EXPECT_EQ(tree[0].name, "worker_processes");
  EXPECT_EQ(args_of(tree[0]), std::vector<std::string>{"4"});
  EXPECT_EQ(tree[0].quoted, std::vector<bool>{false});
  EXPECT_FALSE(tree[0].has_block);
  EXPECT_EQ(args_of(tree[1]), (std::vector<std::string>{"/var/log/e.log", "warn"}));
}

TEST(Parser, BuildsNestedBlocks) {
  auto tree = parse("http { server { location / { location /a { internal; } } } } events {}");
  ASSERT_EQ(tree.size(), 2u);
  const Directive& location = tree[0].block[0].block[0];
  EXPECT_EQ(location.name, "location");
  EXPECT_TRUE(location.has_block);
  ASSERT_EQ(location.block.size(), 1u);
  EXPECT_EQ(location.block[0].block[0].name, "internal");
  EXPECT_TRUE(tree[1].has_block);
  EXPECT_TRUE(tree[1].block.empty());
}

TEST(Parser, QuotedArgumentsKeepSpacesSemicolonsAndBraces) {
  auto tree = parse("log_format main \"$a; {b} #c\" 'x y';");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"main", "$a; {b} #c", "x y"}));
  EXPECT_EQ(tree[0].quoted, (std::vector<bool>{false, true, true}));
}

TEST(Parser, EmptyQuotedStringIsAnArgument) {
  auto tree = parse("add_header X \"\" '';");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"X", "", ""}));
  EXPECT_EQ(tree[0].quoted, (std::vector<bool>{false, true, true}));
}

TEST(Parser, ResolvesEscapesInQuotes) {
  auto tree = parse(R"(a "q\"d" 's\'q' "b\\s" "\t\r\n" 'd\"q';)");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"q\"d", "s'q", "b\\s", "\t\r\n", "d\"q"}));
}

TEST(Parser, KeepsOtherBackslashesForRegexes) {
  auto tree = parse(R"(location ~ "^/a\d+\.png$" {} location ~ ^/b\d+$ {})");
  EXPECT_EQ(tree[0].args[1], R"(^/a\d+\.png$)");
  EXPECT_EQ(tree[1].args[1], R"(^/b\d+$)");
}

TEST(Parser, BareBackslashProtectsTheNextCharacterAndStaysInTheWord) {
  // nginx's reader skips the escaped character; its copier keeps `\x` unless x
  // is one of " ' \ t r n, which it resolves in bare words too.
  auto tree = parse(R"(a b\;c d\ e f\"g h\\i;)");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{R"(b\;c)", R"(d\ e)", "f\"g", R"(h\i)"}));
  EXPECT_EQ(tree[0].quoted, (std::vector<bool>(4, false)));
}

TEST(Parser, HashStartsACommentOnlyAtTheStartOfAWord) {
  auto tree = parse("# top\na b#c # comment ; {\n  d;  # trailing\n'#e' \"#f\";");
  ASSERT_EQ(tree.size(), 2u);
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"b#c", "d"}));
  EXPECT_EQ(tree[1].name, "#e");
  EXPECT_EQ(args_of(tree[1]), std::vector<std::string>{"#f"});
}

TEST(Parser, BraceAfterDollarIsPartOfAVariable) {
  auto tree = parse("set $x ${host}_a;\nreturn 200 a${b}c${d};\nlocation /p${x} {}");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"$x", "${host}_a"}));
  EXPECT_EQ(args_of(tree[1]), (std::vector<std::string>{"200", "a${b}c${d}"}));
  EXPECT_EQ(tree[2].args[0], "/p${x}");
  EXPECT_TRUE(tree[2].has_block);
}

TEST(Parser, OpeningBraceEndsABareWord) {
  auto tree = parse("location /a{}\nb c}d;");
  EXPECT_EQ(tree[0].args[0], "/a");
  EXPECT_TRUE(tree[0].has_block);
  EXPECT_EQ(tree[1].args[0], "c}d");  // `}` only closes a block at the start of a word
}

TEST(Parser, ClosingParenthesisMayFollowAQuotedWord) {
  auto tree = parse("if ($a = \"b\") { return 404; }");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"($a", "=", "b", ")"}));
}

TEST(Parser, QuoteInsideABareWordIsLiteral) {
  auto tree = parse("a b\"c' d;");
  EXPECT_EQ(args_of(tree[0]), (std::vector<std::string>{"b\"c'", "d"}));
}

TEST(Parser, RecordsTheLineOfTheTerminatorAsNginxReports) {
  // nginx reports a directive at the line where its `;` or `{` was read.
  auto tree = parse("\n\n  a\n  b\n  c;\nd \"x\ny\" {\n\n  e;\n}\r\nf;");
  ASSERT_EQ(tree.size(), 3u);
  EXPECT_EQ(tree[0].where.line, 5);
  EXPECT_EQ(tree[0].where.file, "t.conf");
  EXPECT_EQ(tree[1].where.line, 7);
  EXPECT_EQ(tree[1].args[0], "x\ny");
  EXPECT_EQ(tree[1].block[0].where.line, 9);
  EXPECT_EQ(tree[1].block_end_line, 10);
  EXPECT_EQ(tree[2].where.line, 11);
  EXPECT_EQ(tree[2].block_end_line, 0);
}

TEST(Parser, BlockOpenedOnALaterLineIsReportedThere) {
  auto tree = parse("http\n{\n  server\n\n  {\n  }\n\n}");
  EXPECT_EQ(tree[0].where.line, 2);
  EXPECT_EQ(tree[0].block_end_line, 8);
  EXPECT_EQ(tree[0].block[0].where.line, 5);
  EXPECT_EQ(tree[0].block[0].block_end_line, 6);
}

TEST(Parser, EmptyInputAndOnlyCommentsGiveAnEmptyTree) {
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("  # only a comment").empty());
  EXPECT_TRUE(parse("\n\t\r\n").empty());
}

// --- syntax errors -----------------------------------------------------------

TEST(Parser, ReportsUnexpectedClosingBrace) {
  EXPECT_EQ(parse_error("a;\n}"), "unexpected \"}\" in t.conf:2");
  EXPECT_EQ(parse_error("http {\n  a b }\n}"), "unexpected \"}\" in t.conf:2");
}

TEST(Parser, ReportsUnexpectedEndOfFileInADirective) {
  EXPECT_EQ(parse_error("a b"), "unexpected end of file, expecting \";\" or \"}\" in t.conf:1");
  EXPECT_EQ(parse_error("http {\n a \"b;\n}\n"),
            "unexpected end of file, expecting \";\" or \"}\" in t.conf:4");
  EXPECT_EQ(parse_error("a b\\"), "unexpected end of file, expecting \";\" or \"}\" in t.conf:1");
}

TEST(Parser, ReportsUnexpectedEndOfFileInABlock) {
  EXPECT_EQ(parse_error("http {\n  server {\n  }\n"),
            "unexpected end of file, expecting \"}\" in t.conf:4");
}

TEST(Parser, ReportsBraceOrSemicolonWithoutADirective) {
  EXPECT_EQ(parse_error("a;\n{"), "unexpected \"{\" in t.conf:2");
  EXPECT_EQ(parse_error("http {\n ;\n}"), "unexpected \";\" in t.conf:2");
}

TEST(Parser, ReportsCharacterGluedToAQuotedWord) {
  EXPECT_EQ(parse_error("a \"b\"c;"), "unexpected \"c\" in t.conf:1");
  EXPECT_EQ(parse_error("a\n'b'\"c\";"), "unexpected \"\"\" in t.conf:2");
}

// --- include -------------------------------------------------------------------

TEST(Include, ExpandsInPlaceRelativeToThePrefix) {
  TempDir dir;
  dir.write("conf.d/up.conf", "\nupstream u {\n  server a:80;\n}\n");
  const std::string main = dir.write("main.conf", "http {\n  include conf.d/up.conf;\n  b;\n}\n");
  auto tree = parse_file(main, ParseOptions{dir.path()});
  ASSERT_EQ(tree.size(), 1u);
  const auto& http = tree[0].block;
  ASSERT_EQ(http.size(), 2u);
  EXPECT_EQ(http[0].name, "upstream");
  EXPECT_EQ(http[0].where.file, dir.path() + "/conf.d/up.conf");
  EXPECT_EQ(http[0].where.line, 2);
  EXPECT_EQ(http[0].block[0].where.line, 3);
  EXPECT_EQ(http[1].name, "b");
  EXPECT_EQ(http[1].where.file, main);
  EXPECT_EQ(http[1].where.line, 3);
}

TEST(Include, AbsolutePathIgnoresThePrefix) {
  TempDir dir;
  const std::string inc = dir.write("x.conf", "x;");
  auto tree = parse_text("include " + inc + ";", "t.conf", ParseOptions{"/nonexistent"});
  ASSERT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree[0].name, "x");
}

TEST(Include, GlobExpandsToSortedMatches) {
  TempDir dir;
  dir.write("d/b.conf", "b;");
  dir.write("d/a.conf", "a;");
  dir.write("d/c.conf", "c;");
  dir.write("d/skip.txt", "skip;");
  auto tree = parse_text("events { include d/*.conf; }", "t.conf", ParseOptions{dir.path() + "/"});
  ASSERT_EQ(tree[0].block.size(), 3u);
  EXPECT_EQ(tree[0].block[0].name, "a");
  EXPECT_EQ(tree[0].block[1].name, "b");
  EXPECT_EQ(tree[0].block[2].name, "c");
}

TEST(Include, GlobWithoutMatchesIsEmpty) {
  TempDir dir;
  auto tree = parse_text("include none/*.conf;\na;", "t.conf", ParseOptions{dir.path()});
  ASSERT_EQ(tree.size(), 1u);
  EXPECT_EQ(tree[0].name, "a");
}

TEST(Include, MissingFileNamesTheIncludingDirective) {
  TempDir dir;
  const std::string main = dir.write("main.conf", "a;\n\ninclude missing.conf;\n");
  try {
    parse_file(main, ParseOptions{dir.path()});
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "open() \"" + dir.path() +
                  "/missing.conf\" failed (2: No such file or directory) in " + main + ":3");
    EXPECT_EQ(e.where().line, 3);
  }
}

TEST(Include, MissingMainFileHasNoPosition) {
  TempDir dir;
  try {
    parse_file(dir.path() + "/none.conf", {});
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "open() \"" + dir.path() + "/none.conf\" failed (2: No such file or directory)");
  }
}

TEST(Include, UnreadableFileReportsPermissionDenied) {
  TempDir dir;
  const std::string secret = dir.write("secret.conf", "a;");
  ::chmod(secret.c_str(), 0);
  ::chmod(dir.path().c_str(), 0755);
  auto denied = [&] {
    try {
      parse_file(secret, {});
    } catch (const ConfError& e) {
      return std::string(e.what()) == "open() \"" + secret + "\" failed (13: Permission denied)";
    }
    return false;
  };
  if (::geteuid() != 0) {
    EXPECT_TRUE(denied());
    return;
  }
  // Root reads any file: read as nobody (65534) in a child process instead.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) std::_Exit(2);
        std::_Exit(denied() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(Include, ErrorsInsideAnIncludedFileNameThatFile) {
  TempDir dir;
  const std::string inc = dir.write("bad.conf", "a;\n}\n");
  const std::string open_block = dir.write("open.conf", "a {\n");
  EXPECT_EQ(parse_error("http {\ninclude " + inc + ";\n}"), "unexpected \"}\" in " + inc + ":2");
  // A file must close its own blocks: the includer's `}` does not count.
  EXPECT_EQ(parse_error("http {\ninclude " + open_block + ";\n}"),
            "unexpected end of file, expecting \"}\" in " + open_block + ":2");
}

TEST(Include, RejectsRecursion) {
  TempDir dir;
  const std::string self = dir.write("self.conf", "a;\ninclude self.conf;\n");
  try {
    parse_file(self, ParseOptions{dir.path()});
    FAIL() << "no error";
  } catch (const ConfError& e) {
    EXPECT_EQ(std::string(e.what()),
              "include of \"" + self + "\" is nested deeper than 64 levels in " + self + ":2");
  }
}

TEST(Include, ChecksItsOwnShape) {
  EXPECT_EQ(parse_error("include a b;"),
            "invalid number of arguments in \"include\" directive in t.conf:1");
  EXPECT_EQ(parse_error("\ninclude;"),
            "invalid number of arguments in \"include\" directive in t.conf:2");
  EXPECT_EQ(parse_error("include a { }"),
            "directive \"include\" is not terminated by \";\" in t.conf:1");
}

// --- directive checks while reading (nginx's order) ------------------------------

std::string checked_error(const std::string& text, const std::string& name = "t.conf",
                          const std::string& prefix = "") {
  ParseOptions options{prefix};
  options.check_directives = true;
  try {
    parse_text(text, name, options);
  } catch (const ConfError& e) {
    return e.what();
  }
  return "";
}

TEST(CheckedParse, MissingSemicolonIsReportedAtTheBraceThatEndedTheDirective) {
  // nginx reads `server_name foo location / {` as one directive and rejects it
  // at the `{`, before it ever sees that the blocks are not closed.
  EXPECT_EQ(checked_error("http {\n"
                          "    server {\n"
                          "        listen 8080;\n"
                          "        server_name foo\n"
                          "        location / { return 200; }\n"),
            "directive \"server_name\" is not terminated by \";\" in t.conf:5");
}

TEST(CheckedParse, MultiLineDirectivesAreReportedAtTheirTerminator) {
  EXPECT_EQ(checked_error("events {}\nfoo\n bar\n;\n"), "unknown directive \"foo\" in t.conf:4");
  EXPECT_EQ(checked_error("worker_processes\n 1\n 2\n;\n"),
            "invalid number of arguments in \"worker_processes\" directive in t.conf:4");
  EXPECT_EQ(checked_error("http {\nlisten\n 80\n;\n}\n"),
            "\"listen\" directive is not allowed here in t.conf:4");
  EXPECT_EQ(checked_error("http\n\n;\n"), "directive \"http\" has no opening \"{\" in t.conf:3");
  EXPECT_EQ(checked_error("daemon\n maybe\n;\n"),
            "invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or \"off\" in "
            "t.conf:3");
  EXPECT_EQ(checked_error("include\n a\n b\n;"),
            "invalid number of arguments in \"include\" directive in t.conf:4");
}

TEST(CheckedParse, DirectiveErrorsComeBeforeLaterSyntaxErrors) {
  EXPECT_EQ(checked_error("foo;\n}\n"), "unknown directive \"foo\" in t.conf:1");
  EXPECT_EQ(checked_error("http {\n  upstream u {\n    server a:80 {\n"),
            "directive \"server\" is not terminated by \";\" in t.conf:3");
  // Without the checks only the syntax is read.
  EXPECT_EQ(parse_error("foo;\n}\n"), "unexpected \"}\" in t.conf:2");
}

TEST(CheckedParse, AcceptsAValidConfigurationAndSkipsKeyValueBlocks) {
  EXPECT_EQ(checked_error("events {}\nhttp {\n  map $a $b { anything goes; }\n"
                          "  types { text/html html; }\n  server { location / { } }\n}\n"),
            "");
}

TEST(CheckedParse, IncludedFilesAreCheckedInTheIncludersContext) {
  TempDir dir;
  const std::string inc = dir.write("w.conf", "\nworker_processes 1;\n");
  EXPECT_EQ(checked_error("http {\n include w.conf;\n}\n", "t.conf", dir.path()),
            "\"worker_processes\" directive is not allowed here in " + inc + ":2");
  EXPECT_EQ(checked_error("include w.conf;\n", "t.conf", dir.path()), "");
}

TEST(CheckedParse, MissingIncludeIsReportedAtItsSemicolon) {
  TempDir dir;
  EXPECT_EQ(checked_error("events {}\ninclude\n nope.conf\n;\n", "t.conf", dir.path()),
            "open() \"" + dir.path() + "/nope.conf\" failed (2: No such file or directory) in " +
                "t.conf:4");
}

// --- -g (command line) -----------------------------------------------------------

TEST(CommandLine, ErrorsNameTheCommandLineWithoutALine) {
  const std::string g(kCommandLine);
  EXPECT_EQ(checked_error("daemon\n maybe;", g),
            "invalid value \"maybe\" in \"daemon\" directive, it must be \"on\" or \"off\" in "
            "command line");
  EXPECT_EQ(checked_error("foo 3;", g), "unknown directive \"foo\" in command line");
  EXPECT_EQ(checked_error("}", g), "unexpected \"}\" in command line");
}

TEST(CommandLine, RejectsBlocksAndUnterminatedDirectives) {
  const std::string g(kCommandLine);
  EXPECT_EQ(checked_error("events {}", g),
            "block directives are not supported in -g option in command line");
  EXPECT_EQ(checked_error("daemon off; x", g),
            "unexpected end of parameter, expecting \";\" in command line");
  EXPECT_EQ(checked_error("daemon \"off", g),
            "unexpected end of parameter, expecting \";\" in command line");
  EXPECT_EQ(checked_error("pid x.pid; daemon off;", g), "");
}

// --- files read (for -T) -----------------------------------------------------------

TEST(FilesRead, ListsTheMainFileThenIncludesInTheOrderFirstRead) {
  TempDir dir;
  dir.write("a.conf", "include sub/b.conf;\n");
  dir.write("sub/b.conf", "");
  dir.write("d/2.conf", "x;");
  dir.write("d/1.conf", "y;");
  dir.write("c.conf", "z;");
  const std::string main = dir.write(
      "main.conf", "include a.conf;\ninclude d/*.conf;\ninclude c.conf;\ninclude a.conf;\n");
  const ParseResult result = parse_file_with_files(main, ParseOptions{dir.path() + "/"});
  const std::string p = dir.path() + "/";
  EXPECT_EQ(result.files, (std::vector<std::string>{main, p + "a.conf", p + "sub/b.conf",
                                                    p + "d/1.conf", p + "d/2.conf", p + "c.conf"}));
  // The file read twice is listed once, but its directives count twice, as in nginx.
  ASSERT_EQ(result.tree.size(), 3u);
  EXPECT_EQ(result.tree[0].name, "y");
  EXPECT_EQ(result.tree[1].name, "x");
  EXPECT_EQ(result.tree[2].name, "z");
}

TEST(FilesRead, ParseFileGivesTheSameTree) {
  TempDir dir;
  dir.write("a.conf", "a 1;\n");
  const std::string main = dir.write("main.conf", "include a.conf;\nb 2;\n");
  expect_same_tree(parse_file(main, ParseOptions{dir.path()}),
                   parse_file_with_files(main, ParseOptions{dir.path()}).tree);
}

// --- dump ------------------------------------------------------------------------

TEST(Dump, IndentsBlocksByFourSpaces) {
  auto tree = parse("http{server{listen 80;location / {return 200 ok;}}}events{}");
  EXPECT_EQ(dump(tree),
            "http {\n"
            "    server {\n"
            "        listen 80;\n"
            "        location / {\n"
            "            return 200 ok;\n"
            "        }\n"
            "    }\n"
            "}\n"
            "events {\n"
            "}\n");
}

TEST(Dump, QuotesArgumentsThatNeedIt) {
  Directive d;
  d.name = "a";
  d.args = {"", "x y", "a;b", "{", "#c", "}", "plain", "q\"s", "back\\slash"};
  EXPECT_EQ(dump({d}), R"(a "" "x y" "a;b" "{" "#c" "}" plain q\"s back\slash;)"
                       "\n");
}

TEST(Dump, KeepsQuotesThatWereWritten) {
  EXPECT_EQ(dump(parse("a 'b' \"c d\" e;")), "a \"b\" \"c d\" e;\n");
}

TEST(Dump, RoundTripsARealisticConfiguration) {
  const std::string text = R"(
user www-data;
worker_processes auto;
events { worker_connections 1024; }
http {
    log_format main '$remote_addr - "$request" $status'
                    ' ${request_time}s';
    map $http_upgrade $connection_upgrade { default upgrade; '' close; }
    upstream backend { least_conn; server 10.0.0.1:8080 weight=3; keepalive 16; }
    server {
        listen 80 default_server;
        server_name example.com "*.example.org";
        location ~* "\.(png|jpg)$" { return 404; }
        location ~ ^/api/v\d+/ { proxy_pass http://backend; }
        location / {
            proxy_set_header Connection $connection_upgrade;
            add_header X-Tab "a\tb" always;
            add_header X-Empty "";
            return 200 "line1\nline2 \"quoted\" \\";
        }
    }
}
)";
  const auto tree = parse(text);
  const std::string dumped = dump(tree);
  const auto again = parse(dumped);
  expect_same_tree(tree, again);
  EXPECT_EQ(dump(again), dumped);
}

TEST(Dump, RoundTripsEscapeEdgeCasesInBareWords) {
  const auto tree = parse(R"(a b\ c d\;e f\"g \"h i\\j k\\\ l m${n}o \$p q\$${r} s\tt u}v;)");
  const auto again = parse(dump(tree));
  expect_same_tree(tree, again);
}

TEST(Dump, EveryValueSurvivesARoundTrip) {
  const std::vector<std::string> values = {"",    "x",    " ",   "a b",  ";",  "{",   "}",    "#",
                                           "a#",  "$",    "${",  "${x}", "a{", "\\",  "\\\\", "\\d",
                                           "\\ ", "\"",   "'",   "a\"",  "\t", "\n",  "\r",   "\\t",
                                           "\\n", "\\\"", "x\\", "(",    ")",  "$\\{"};
  for (const std::string& value : values) {
    for (bool quoted : {false, true}) {
      SCOPED_TRACE("value [" + value + "] quoted " + std::to_string(quoted));
      Directive d;
      d.name = "n";
      d.args = {value, "tail"};
      d.quoted = {quoted, false};
      const auto again = parse(dump({d}));
      ASSERT_EQ(again.size(), 1u);
      EXPECT_EQ(again[0].args, d.args);
      if (quoted) {
        EXPECT_TRUE(again[0].quoted[0]);
      }
    }
  }
}

TEST(Lexer, UnescapeWordMatchesNginx) {
  EXPECT_EQ(unescape_word(R"(\"\'\\\t\r\n\d\)"), "\"'\\\t\r\n\\d\\");
}

}  // namespace
}  // namespace tg::conf

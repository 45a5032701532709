#!/usr/bin/env node
// Fails when a PHP file uses syntax, functions or classes newer than PHP 7.4.
//
//   node check-php74.js FILE...
//
// Two layers: glayzzle's php-parser set to PHP 7.4 refuses the PHP 8 syntax it gates (match,
// nullsafe ?->, named arguments, throw expressions, trailing commas in parameter lists, catch
// without a variable, enums, first-class callables); a walk of the syntax tree then
// finds what the parser still accepts at 7.4 (union and intersection types, mixed/static/never/
// null/false/true types, constructor promotion, readonly, $object::class, new in initializers)
// and calls to functions or uses of classes added after 7.4. Before checking the files, it
// checks itself on a sample of each construct, so that a parser upgrade cannot silently
// weaken it.
"use strict";

const fs = require("fs");
const { Engine } = require("php-parser");

const NEWER_FUNCTIONS = new Set([
  // 8.0
  "str_contains", "str_starts_with", "str_ends_with", "get_debug_type", "get_resource_id",
  "fdiv", "preg_last_error_msg",
  // 8.1
  "array_is_list", "enum_exists", "fsync", "fdatasync",
  // 8.2
  "curl_upkeep", "ini_parse_quantity", "memory_reset_peak_usage", "mysqli_execute_query",
  "openssl_cipher_key_length", "libxml_get_external_entity_loader",
  // 8.3
  "json_validate", "mb_str_pad", "str_increment", "str_decrement", "stream_context_set_options",
  // 8.4
  "array_find", "array_find_key", "array_any", "array_all", "mb_trim", "mb_ltrim", "mb_rtrim",
  "mb_ucfirst", "mb_lcfirst", "bcdivmod", "http_get_last_response_headers",
  "http_clear_last_response_headers", "request_parse_body", "grapheme_str_split",
  // 8.5
  "array_first", "array_last", "get_error_handler", "get_exception_handler",
]);

const NEWER_CLASSES = new Set([
  // 8.0
  "valueerror", "unhandledmatcherror", "stringable", "weakmap", "attribute", "phptoken",
  "curlhandle", "curlmultihandle", "curlsharehandle", "internaliterator",
  // 8.1
  "fiber", "fibererror", "returntypewillchange", "unitenum", "backedenum", "curlstringfile",
  // 8.2
  "allowdynamicproperties", "sensitiveparameter", "sensitiveparametervalue",
  // 8.3
  "override", "datemalformedstringexception", "dateexception", "dateerror",
  // 8.4
  "deprecated", "requestparsebodyexception",
]);

const NEWER_TYPES = new Set(["mixed", "static", "never", "null", "false", "true"]);

function lastSegment(name) {
  const parts = String(name).split("\\");
  return parts[parts.length - 1].toLowerCase();
}

function parse(code, file) {
  const engine = new Engine({
    parser: { version: "7.4", extractDoc: false, suppressErrors: false },
    ast: { withPositions: true },
  });
  return engine.parseCode(code, file);
}

function line(node) {
  return node && node.loc ? node.loc.start.line : "?";
}

function checkType(type, report) {
  if (!type || typeof type !== "object") return;
  if (type.kind === "uniontype" || type.kind === "intersectiontype") {
    report(type, `${type.kind === "uniontype" ? "union" : "intersection"} types need PHP 8`);
    return;
  }
  if (type.kind === "typereference" && NEWER_TYPES.has(String(type.name).toLowerCase())) {
    report(type, `the type '${type.name}' needs PHP 8`);
  }
  if (type.kind === "name" && NEWER_CLASSES.has(lastSegment(type.name))) {
    report(type, `the class ${type.name} needs PHP 8`);
  }
}

const NODE_CHECKS = {
  parameter(node, report) {
    checkType(node.type, report);
    if (node.flags) report(node, "constructor property promotion needs PHP 8");
    if (node.readonly) report(node, "readonly needs PHP 8.1");
    if (node.value && node.value.kind === "new") report(node, "new in an initializer needs PHP 8.1");
  },
  property(node, report) {
    checkType(node.type, report);
    if (node.readonly) report(node, "readonly properties need PHP 8.1");
  },
  class(node, report) {
    if (node.isReadonly) report(node, "readonly classes need PHP 8.2");
  },
  function(node, report) {
    checkType(node.type, report);
  },
  method(node, report) {
    checkType(node.type, report);
  },
  closure(node, report) {
    checkType(node.type, report);
  },
  arrowfunc(node, report) {
    checkType(node.type, report);
  },
  call(node, report) {
    const what = node.what;
    if (what && what.kind === "name" && NEWER_FUNCTIONS.has(lastSegment(what.name))) {
      report(node, `${what.name}() needs PHP 8 or later`);
    }
  },
  staticlookup(node, report) {
    const offset = node.offset && node.offset.name;
    const classLike = ["name", "selfreference", "staticreference", "parentreference"];
    if (offset === "class" && node.what && !classLike.includes(node.what.kind)) {
      report(node, "$object::class needs PHP 8");
    }
  },
  name(node, report) {
    if (NEWER_CLASSES.has(lastSegment(node.name)) && node.resolution !== "rn") {
      report(node, `the class ${node.name} needs PHP 8 or later`);
    }
  },
};

const FORBIDDEN_KINDS = {
  match: "match needs PHP 8",
  nullsafepropertylookup: "the nullsafe operator ?-> needs PHP 8",
  namedargument: "named arguments need PHP 8",
  enum: "enums need PHP 8.1",
  attrgroup: "attributes need PHP 8",
  variadicplaceholder: "first-class callable syntax needs PHP 8.1",
  uniontype: "union types need PHP 8",
  intersectiontype: "intersection types need PHP 8.1",
};

function walk(node, visit) {
  if (Array.isArray(node)) {
    node.forEach((child) => walk(child, visit));
    return;
  }
  if (!node || typeof node !== "object") return;
  if (typeof node.kind === "string") visit(node);
  for (const key of Object.keys(node)) {
    if (key !== "loc") walk(node[key], visit);
  }
}

/** The problems of one PHP source: ["line N: reason", ...]. */
function problems(code, file) {
  let ast;
  try {
    ast = parse(code, file);
  } catch (error) {
    return [`not valid PHP 7.4: ${error.message}`];
  }
  const found = [];
  const report = (node, reason) => found.push(`line ${line(node)}: ${reason}`);
  walk(ast, (node) => {
    if (FORBIDDEN_KINDS[node.kind]) report(node, FORBIDDEN_KINDS[node.kind]);
    if (NODE_CHECKS[node.kind]) NODE_CHECKS[node.kind](node, report);
  });
  return [...new Set(found)];
}

// Each must be refused; the last must pass: the checker checks itself before it checks files.
const SAMPLES_REFUSED = [
  "$x = match ($a) { 1 => 2, default => 3 };",
  "$a?->b;",
  "f(a: 1);",
  "class A { function __construct(private int $x) {} }",
  "function f(int|string $a) {}",
  "function f(mixed $a) {}",
  "class A { function f(): static { return $this; } }",
  "function f(): never { exit; }",
  "$a = $b ?? throw new E();",
  "function f($a, $b,) {}",
  "try {} catch (E) {}",
  "enum S { case A; }",
  "class A { public readonly int $x; }",
  "$f = strlen(...);",
  "$x = $o::class;",
  "function f($a = new A) {}",
  "if (str_contains($a, 'b')) {}",
  "$ok = \\array_is_list($a);",
  "throw new \\ValueError('x');",
  "function f(Stringable $s) {}",
];
const SAMPLE_ACCEPTED =
  "namespace A; use B\\C; $f = fn($x) => $x ?? 1; $a ??= 2; $b = [...$c];" +
  " class D extends C { public ?int $x = 1_000; const E = [1, 2];" +
  " public function f(?array $a = null, callable ...$b): ?self { return [self::class, static::class]; } }" +
  " try { strpos('a', 'b'); } catch (\\RuntimeException | \\LogicException $e) {} $n = D::class;";

function selfTest() {
  const failures = [];
  for (const sample of SAMPLES_REFUSED) {
    if (problems("<?php " + sample, "sample.php").length === 0) {
      failures.push(`not refused: ${sample}`);
    }
  }
  const accepted = problems("<?php " + SAMPLE_ACCEPTED, "sample.php");
  if (accepted.length) failures.push(`refused valid PHP 7.4: ${accepted.join("; ")}`);
  return failures;
}

function main(files) {
  const own = selfTest();
  if (own.length) {
    own.forEach((failure) => console.error(`check-php74 self-test: ${failure}`));
    return 2;
  }
  if (!files.length) {
    console.error("usage: node check-php74.js FILE...");
    return 2;
  }
  let bad = 0;
  for (const file of files) {
    const found = problems(fs.readFileSync(file, "utf8"), file);
    found.forEach((problem) => console.error(`${file}: ${problem}`));
    if (found.length) bad += 1;
  }
  if (bad) {
    console.error(`${bad} of ${files.length} PHP file(s) use something newer than PHP 7.4`);
    return 1;
  }
  console.log(`${files.length} PHP file(s) use nothing newer than PHP 7.4`);
  return 0;
}

module.exports = { problems, selfTest };

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}

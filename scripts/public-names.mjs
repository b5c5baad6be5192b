// The property names the script-tag build must keep: terser renames every other
// property of our own objects (rollup.config.mjs), a few hundred bytes for every visitor.
//
// The rule, instead of a hand-kept list of what may be renamed: a property keeps its
// name when it is declared in a file whose types are public or on the wire (the
// protocol, the options, the npm API, the registry sessionbeacon/testing reads), or
// when it is in SHARED below. DOM and built-in names are kept by terser itself (its
// list of browser properties). Everything else is internal and renamed; the e2e tests
// run against this minified build.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

/** Files whose declared member names are public: the wire, the options, the API, the test registry. */
export const PUBLIC_FILES = ['src/protocol.ts', 'src/client/options.ts', 'src/client/index.ts', 'src/client/tracker.ts', 'src/client/registry.ts'];

/**
 * Names another build of the SDK on the same site (the npm build is not minified),
 * the page, or the browser reads, that no public file declares: the queue record in
 * IndexedDB (`lease`), the tabs' BroadcastChannel messages (`sbWho`, `sbMine`), the
 * mark on a wrapped history (`sbWrapped`), the script tag's stub (`sessionbeacon`,
 * `q`), and a Web Locks option terser does not know (`ifAvailable`). A name stored
 * or shared across builds goes here when it is added.
 */
export const SHARED = ['lease', 'sbWho', 'sbMine', 'sbWrapped', 'sessionbeacon', 'q', 'ifAvailable'];

export function publicNames(root = new URL('..', import.meta.url)) {
  const names = new Set(SHARED);
  for (const file of PUBLIC_FILES) {
    const source = ts.createSourceFile(file, readFileSync(new URL(file, root), 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if ((ts.isPropertySignature(node) || ts.isMethodSignature(node) || ts.isPropertyAssignment(node) || ts.isShorthandPropertyAssignment(node)) && node.name && ts.isIdentifier(node.name))
        names.add(node.name.text);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...names];
}

// A run's error in the reader's language (councilors/run_errors.py): the texts the project itself
// records are recognised with the server's own table (rendered into each page's config as
// `runErrorPatterns`, already translated); anything else is shown as recorded. What a pattern
// captured is worded too when it is one of the project's own texts; `fragment` lines match only there.

/** `text` worded by the first pattern it matches (fragments too unless `whole`), else as it came. */
function worded(text, patterns, whole) {
  for (const { pattern, flags = "", message, fragment = false } of patterns) {
    if (fragment && whole) continue;
    const match = new RegExp(pattern, flags).exec(text);
    if (match) {
      // A captured part is shorter than the text, so this ends.
      return message.replace(/%\((\w+)\)s/g, (_whole, name) => worded(match.groups?.[name] ?? "", patterns, false));
    }
  }
  return text;
}

/** `error` worded by the first pattern it matches, else as it came. */
export function runErrorText(error, patterns = []) {
  if (!error) return "";
  return worded(error, patterns, true);
}

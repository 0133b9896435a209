// A run's error in the reader's language (councilors/run_errors.py): the texts the project itself
// records are recognised with the server's own table (rendered into each page's config as
// `runErrorPatterns`, already translated); anything else is shown as recorded.

/** `error` worded by the first pattern it matches, else as it came. */
export function runErrorText(error, patterns = []) {
  if (!error) return "";
  for (const { pattern, flags = "", message } of patterns) {
    const match = new RegExp(pattern, flags).exec(error);
    if (match) return message.replace(/%\((\w+)\)s/g, (_whole, name) => match.groups?.[name] ?? "");
  }
  return error;
}

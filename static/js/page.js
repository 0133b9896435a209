// What every page of the site does once loaded (templates/base.html). A module, not inline code:
// the Content-Security-Policy allows scripts from this site's files only (docs/security.md).
//  - the language switch posts its form as soon as a language is chosen;
//  - every <time datetime> the server rendered is written again in the reader's language and time
//    zone (Intl), the way the scripts write the times they add later: one format on the page;
//  - an element with data-agent-color gets that colour as --agent-color (set through the CSSOM,
//    which the policy allows, rather than a style attribute, which it does not).

import { renderTimes } from "./gamification/format.js";

const language = document.getElementById("language-select");
language?.addEventListener("change", () => language.form.requestSubmit());

renderTimes(document);

for (const element of document.querySelectorAll("[data-agent-color]")) {
  element.style.setProperty("--agent-color", element.dataset.agentColor);
}

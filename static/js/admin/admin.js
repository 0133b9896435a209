// The admin's own behaviour (templates/admin/base_site.html), from a file: the CSP allows no inline script.
//  - "Run now" on a change page runs what is saved: with unsaved edits in the form, it asks first
//    (Save, then Run now, to run the edited version), instead of dropping them silently.
//  - Times the project's columns render (<time datetime>) stay as Django's formats wrote them.
//  - A list with little room (a phone; the sidebars open on a tablet) reads as cards: each cell
//    gets its column's header as `data-label`, which static/css/admin.css shows beside the value,
//    instead of a table cut off at the right edge.

import { pageGettext } from "../gamification/i18n.js";

const gettext = pageGettext;

const form = document.querySelector("#content-main form[id$=\"_form\"]");
const runNow = document.querySelector("form.run-now");

if (form && runNow) {
  let edited = false;
  const markEdited = (event) => {
    if (event.target.closest("form") === form) edited = true;
  };
  form.addEventListener("input", markEdited);
  form.addEventListener("change", markEdited);
  runNow.addEventListener("submit", (event) => {
    if (!edited) return;
    const message = gettext("This form has unsaved changes. Run now runs the saved settings and drops your edits. Run anyway?");
    if (!window.confirm(message)) event.preventDefault();
  });
  runNow.dataset.guarded = "true";
}

/** Each body cell of `table` labelled with its column's header (colspans counted). */
export function labelCells(table) {
  const headers = [];
  for (const th of table.tHead?.rows[0]?.cells ?? []) {
    for (let span = 0; span < th.colSpan; span += 1) headers.push(th.textContent.trim());
  }
  for (const body of table.tBodies) {
    for (const row of body.rows) {
      [...row.cells].forEach((cell, index) => {
        if (headers[index]) cell.dataset.label = headers[index];
      });
    }
  }
  table.classList.add("cards-on-phones");
}

for (const table of document.querySelectorAll("#result_list, .inline-group .tabular table")) labelCells(table);

// The letters' and posters' "打印" button (templates/admin/contacts/claim_codes/): no inline
// onclick, so that the content security policy needs no 'unsafe-inline' for scripts.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print]")) {
    button.addEventListener("click", () => window.print());
  }
});

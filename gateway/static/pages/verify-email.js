import { busy, graphql, show, takeLinkToken } from "./common.js";

const VERIFY = "mutation VerifyEmail($token: String!) { verifyEmail(token: $token) }";

const token = takeLinkToken();
const ready = document.getElementById("ready");
const form = document.getElementById("verify-form");
const button = document.getElementById("verify");

if (!token) {
  show("error", "This link is incomplete: open the link from your confirmation mail again.");
} else {
  ready.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(button, true);
    show("pending", "Confirming…");
    const result = await graphql(VERIFY, { token });
    if (result.data && result.data.verifyEmail === true) {
      ready.hidden = true;
      show("success", "Your e-mail address is confirmed. You can now sign in.");
      return;
    }
    busy(button, false);
    show(
      "error",
      `Your address could not be confirmed: ${result.error || "unknown error"}. ` +
        "The link may have expired or been used already; sign up again for a new one.",
    );
  });
}

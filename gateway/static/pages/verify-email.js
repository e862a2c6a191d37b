import { busy, graphql, show, takeLinkToken } from "./common.js";

const VERIFY =
  "mutation VerifyEmail($token: String!, $password: String) " +
  "{ verifyEmail(token: $token, password: $password) }";

const token = takeLinkToken();
const ready = document.getElementById("ready");
const form = document.getElementById("verify-form");
const button = document.getElementById("verify");
const passwordStep = document.getElementById("password-step");
const passwordInput = document.getElementById("password");

// Contested sign-ups (more than one for this address): the server asks for the password chosen
// at this link's own sign-up. It is sent only in this request's body, never kept or logged.
function askForPassword() {
  passwordStep.hidden = false;
  passwordInput.disabled = false;
  passwordInput.required = true;
  passwordInput.focus();
}

if (!token) {
  show("error", "This link is incomplete: open the link from your confirmation mail again.");
} else {
  ready.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const variables = { token };
    if (!passwordStep.hidden) {
      if (!passwordInput.value) {
        show("error", "Enter the password you chose when you signed up.");
        return;
      }
      variables.password = passwordInput.value;
    }
    busy(button, true);
    show("pending", "Confirming…");
    const result = await graphql(VERIFY, variables);
    if (result.data && result.data.verifyEmail === true) {
      ready.hidden = true;
      passwordInput.value = "";
      show("success", "Your e-mail address is confirmed. You can now sign in.");
      return;
    }
    busy(button, false);
    if (result.code === "PASSWORD_REQUIRED") {
      askForPassword();
      show("error", result.error);
      return;
    }
    if (result.code === "PASSWORD_MISMATCH") {
      passwordInput.value = "";
      passwordInput.focus();
      show("error", result.error);
      return;
    }
    show(
      "error",
      `Your address could not be confirmed: ${result.error || "unknown error"}. ` +
        "The link may have expired or been used already; sign up again for a new one.",
    );
  });
}

import { busy, graphql, show, takeLinkToken } from "./common.js";

const CONFIRM =
  "mutation ConfirmPasswordReset($token: String!, $newPassword: String!) " +
  "{ confirmPasswordReset(token: $token, newPassword: $newPassword) }";
const REQUEST = "mutation RequestPasswordReset($email: String!) { requestPasswordReset(email: $email) }";

const token = takeLinkToken();

if (token) {
  const form = document.getElementById("reset-form");
  const password = document.getElementById("new-password");
  const repeat = document.getElementById("confirm-password");
  const button = document.getElementById("reset");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (password.value !== repeat.value) {
      show("error", "The two passwords differ.");
      return;
    }
    busy(button, true);
    show("pending", "Setting your new password…");
    const result = await graphql(CONFIRM, { token, newPassword: password.value });
    if (result.data && result.data.confirmPasswordReset === true) {
      form.hidden = true;
      password.value = repeat.value = "";
      show("success", "Your password has been changed. Sign in with the new password.");
      return;
    }
    busy(button, false);
    show("error", `Your password was not changed: ${result.error || "unknown error"}.`);
  });
} else {
  // The "someone tried to sign up with your address" mail links here without a token.
  const form = document.getElementById("request-form");
  const email = document.getElementById("email");
  const button = document.getElementById("request");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    busy(button, true);
    const result = await graphql(REQUEST, { email: email.value.trim() });
    busy(button, false);
    if (result.data) {
      form.hidden = true;
      show("success", "If an account uses this address, a reset link is on its way.");
      return;
    }
    show("error", `No reset link was sent: ${result.error || "unknown error"}.`);
  });
}

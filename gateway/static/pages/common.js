// Shared by the link pages: the link token is read once from the address bar (fragment first,
// then query) and removed from it and from the history entry at once; it lives on only in a
// variable of this page. Everything shown is set with textContent (no HTML from anywhere).

export function takeLinkToken() {
  const fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
  const fromQuery = new URLSearchParams(window.location.search).get("token");
  const token = fromHash || fromQuery;
  if (window.location.search || window.location.hash) {
    window.history.replaceState(null, "", window.location.pathname);
  }
  // A link differing only in its fragment does not load the page again: start over with it.
  window.addEventListener("hashchange", () => window.location.reload());
  return token && token.trim() ? token.trim() : null;
}

export async function graphql(query, variables) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch {
    return { error: "The server could not be reached. Check your connection and try again." };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && Array.isArray(body.errors) && body.errors.length) {
    const first = body.errors[0] || {};
    const code = (first.extensions && first.extensions.code) || null;
    return { error: String(first.message || "The request was refused."), code };
  }
  if (!response.ok || !body || !body.data) {
    return { error: `The request failed (HTTP ${response.status}). Try again later.` };
  }
  return { data: body.data };
}

export function show(kind, message) {
  const status = document.getElementById("status");
  status.className = `status ${kind}`;
  status.textContent = message;
}

export function busy(button, on) {
  button.disabled = on;
}

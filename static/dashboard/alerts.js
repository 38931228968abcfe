// The active alerts' banner, on every page: fetched again every REFRESH_MS while the page is shown, so an alert
// that fires or resolves while a page is open shows without a reload.
const REFRESH_MS = 10 * 1000;
const holder = document.getElementById("alerts");

async function refresh() {
  if (document.visibilityState !== "visible") return;
  let response;
  try {
    response = await fetch(holder.dataset.url, { headers: { Accept: "text/html" }, redirect: "manual" });
  } catch {
    return; // the service is away: the banner stays as it was, and the next round asks again
  }
  // A lapsed session answers with a redirect to the login page: nothing to show from it.
  if (response.ok && response.type !== "opaqueredirect") holder.innerHTML = await response.text();
}

if (holder) {
  setInterval(refresh, REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
}

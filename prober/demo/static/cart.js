// Demo Shop cart: buy without a page load (the form still works without JS).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("checkout");
  const msg = document.getElementById("msg");
  if (!form || !msg) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    msg.className = "";
    msg.textContent = "";
    try {
      const resp = await fetch("/checkout", {method: "POST", headers: {"Accept": "application/json"}});
      const data = await resp.json();
      if (resp.ok) {
        msg.textContent = "Thanks for your order";
        document.getElementById("order").textContent = "Order " + data.order_id;
        document.getElementById("items").replaceChildren();
        document.getElementById("total").textContent = "0.00";
      } else {
        msg.className = "error";
        msg.textContent = data.error === "cart is empty" ? "Your cart is empty" : "Order failed";
      }
    } catch (err) {
      msg.className = "error";
      msg.textContent = "Order failed";
    }
  });
});

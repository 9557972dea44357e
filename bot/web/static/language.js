// The language switcher applies as soon as a language is picked (the button is for no-JS).
document.querySelectorAll("form.language").forEach((form) => {
  const button = form.querySelector("button");
  if (button) button.hidden = true;
  form.querySelector("select").addEventListener("change", () => form.submit());
});

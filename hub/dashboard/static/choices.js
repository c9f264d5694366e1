/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Searchable multiple choice: a progressive enhancement of <select multiple data-searchable>.
 *
 * Without this script the form keeps its plain multi-select. With it, the select is hidden (it stays in the form
 * and is what the form submits) and replaced by the chosen codes, each with a remove button, and a combobox: click
 * or type to open the list and narrow it, ArrowDown/ArrowUp to move, Enter to choose or unchoose, Escape to close, Backspace in an
 * empty box to remove the last code chosen. The select's <label> names the combobox. Words come from the select's
 * data- attributes, which the server renders in the page's language: data-remove-label ("Remove"),
 * data-none-text ("No code matches") and data-all-text (the placeholder when nothing is chosen).
 */
(function () {
  "use strict";

  function text(select, name) { return select.getAttribute(name) || ""; }

  function fold(value) {
    return value.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function enhance(select, n) {
    var id = select.id || "choice-" + n;
    var options = Array.prototype.slice.call(select.options);
    var wrap = document.createElement("div");
    wrap.className = "choice";
    var chosen = document.createElement("ul");
    chosen.className = "choice-chosen";
    var input = document.createElement("input");
    input.type = "text";
    input.id = id + "-search";
    input.className = "choice-search";
    input.autocomplete = "off";
    input.placeholder = text(select, "data-all-text");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id + "-options");
    var list = document.createElement("ul");
    list.id = id + "-options";
    list.className = "choice-options";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-multiselectable", "true");
    list.hidden = true;
    var empty = document.createElement("li");
    empty.className = "choice-empty";
    empty.textContent = text(select, "data-none-text");
    var items = options.map(function (option, i) {
      var item = document.createElement("li");
      item.id = id + "-option-" + i;
      item.setAttribute("role", "option");
      item.setAttribute("data-value", option.value);
      item.textContent = option.text;
      item.addEventListener("mousedown", function (event) { event.preventDefault(); toggle(i); });
      list.appendChild(item);
      return item;
    });
    list.appendChild(empty);
    var active = -1;

    var label = document.querySelector("label[for='" + id + "']");
    if (label) {
      label.htmlFor = input.id;
      if (!label.id) { label.id = id + "-label"; }
      list.setAttribute("aria-labelledby", label.id);
    }
    select.hidden = true;
    select.setAttribute("aria-hidden", "true");
    select.tabIndex = -1;
    wrap.appendChild(chosen);
    wrap.appendChild(input);
    wrap.appendChild(list);
    select.parentNode.insertBefore(wrap, select.nextSibling);

    function visible() { return items.filter(function (item) { return !item.hidden; }); }

    function setActive(item) {
      items.forEach(function (other) { other.classList.remove("active"); });
      active = item ? items.indexOf(item) : -1;
      if (item) {
        item.classList.add("active");
        input.setAttribute("aria-activedescendant", item.id);
        item.scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function open() {
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      setActive(null);
    }

    function filter() {
      var wanted = fold(input.value.trim());
      items.forEach(function (item, i) {
        item.hidden = wanted !== "" && fold(options[i].text).indexOf(wanted) < 0 && fold(options[i].value) !== wanted;
      });
      var shown = visible();
      empty.hidden = shown.length > 0;
      if (shown.indexOf(items[active]) < 0) { setActive(shown[0] || null); }
    }

    function render() {
      while (chosen.firstChild) { chosen.removeChild(chosen.firstChild); }
      options.forEach(function (option, i) {
        items[i].setAttribute("aria-selected", option.selected ? "true" : "false");
        if (!option.selected) { return; }
        var chip = document.createElement("li");
        chip.setAttribute("data-value", option.value);
        chip.appendChild(document.createTextNode(option.text));
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "choice-remove";
        remove.textContent = "\u00d7";
        remove.setAttribute("aria-label", text(select, "data-remove-label") + " " + option.text);
        remove.addEventListener("click", function () { toggle(i); input.focus(); });
        chip.appendChild(remove);
        chosen.appendChild(chip);
      });
      input.placeholder = select.selectedOptions.length ? "" : text(select, "data-all-text");
    }

    function toggle(i) {
      options[i].selected = !options[i].selected;
      render();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function move(step) {
      var shown = visible();
      if (!shown.length) { return; }
      var at = shown.indexOf(items[active]);
      setActive(shown[at < 0 ? (step > 0 ? 0 : shown.length - 1) : Math.min(shown.length - 1, Math.max(0, at + step))]);
    }

    input.addEventListener("focus", function () { filter(); });
    input.addEventListener("click", function () { open(); filter(); });
    input.addEventListener("input", function () { open(); filter(); });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { open(); filter(); }
        move(event.key === "ArrowDown" ? 1 : -1);
      } else if (event.key === "Enter") {
        if (!list.hidden && active >= 0) {
          event.preventDefault();
          toggle(active);
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); close(); }
      } else if (event.key === "Backspace" && input.value === "" && select.selectedOptions.length) {
        var last = select.selectedOptions[select.selectedOptions.length - 1];
        toggle(options.indexOf(last));
      }
    });
    render();
    filter();
    close();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("select[multiple][data-searchable]"), enhance);
  });
}());

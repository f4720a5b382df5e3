/* Small behaviours every desk page shares, kept out of the HTML so the
   Content-Security-Policy can forbid inline scripts.
   - [data-submit-on-change]: a control that submits its form when changed (the
     Payment / Refund switch); a <noscript> button does the same without scripts. */
document.addEventListener("change", function (event) {
  var control = event.target.closest("[data-submit-on-change]");
  if (control && control.form) {
    control.form.requestSubmit ? control.form.requestSubmit() : control.form.submit();
  }
});

/* The customer autocomplete (customers/widgets.py, templates/customers/_customer_search.html):
   htmx fills the listbox under the field as one types; here the list opens and closes,
   ArrowDown / ArrowUp move through the suggestions, Enter or a click chooses one (its code
   goes into the field and `change` fires, which filters a listing), Escape closes. */
(function () {
  function parts(node) {
    var box = node && node.closest && node.closest("[data-autocomplete]");
    if (!box) return null;
    return { box: box, input: box.querySelector("input"), list: box.querySelector("[role=listbox]") };
  }
  function options(p) {
    return Array.prototype.slice.call(p.list.querySelectorAll("[role=option]"));
  }
  function setOpen(p, open) {
    p.list.hidden = !open;
    p.input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) p.input.removeAttribute("aria-activedescendant");
  }
  function activate(p, index) {
    var opts = options(p);
    opts.forEach(function (o, i) {
      o.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (opts[index]) {
      p.input.setAttribute("aria-activedescendant", opts[index].id);
      opts[index].scrollIntoView({ block: "nearest" });
    }
  }
  function active(p) {
    return options(p).findIndex(function (o) {
      return o.getAttribute("aria-selected") === "true";
    });
  }
  function choose(p, option) {
    p.input.value = option.getAttribute("data-value");
    setOpen(p, false);
    p.input.dispatchEvent(new Event("change", { bubbles: true }));
  }
  document.addEventListener("htmx:afterSwap", function (event) {
    var p = parts(event.detail.target);
    if (p && event.detail.target === p.list) {
      setOpen(p, p.list.children.length > 0 && document.activeElement === p.input);
    }
  });
  document.addEventListener("keydown", function (event) {
    var p = parts(event.target);
    if (!p || event.target !== p.input) return;
    var opts = options(p);
    var open = !p.list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (!opts.length) return;
      event.preventDefault();
      setOpen(p, true);
      var step = event.key === "ArrowDown" ? 1 : -1;
      activate(p, (active(p) + step + opts.length) % opts.length);
    } else if (event.key === "Enter" && open && active(p) >= 0) {
      event.preventDefault();
      choose(p, opts[active(p)]);
    } else if (event.key === "Escape" && open) {
      event.preventDefault();
      setOpen(p, false);
    }
  });
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest("[data-autocomplete] [role=option]");
    if (option) {
      event.preventDefault(); // keep the focus in the field
      choose(parts(option), option);
    }
  });
  document.addEventListener("focusout", function (event) {
    var p = parts(event.target);
    if (p && !p.box.contains(event.relatedTarget)) setOpen(p, false);
  });
})();

/* - [data-enter-clicks="<selector>"]: Enter in this field clicks that button instead of
     submitting the form with its default button (the picker's search box: Enter
     searches, it never applies). Without scripts the server tells a search from an
     Apply by the search box's text (invoicing/views/applications.py). */
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || event.isComposing) return;
  var field = event.target.closest && event.target.closest("[data-enter-clicks]");
  if (!field) return;
  var button = document.querySelector(field.getAttribute("data-enter-clicks"));
  if (button) {
    event.preventDefault();
    button.click();
  }
});

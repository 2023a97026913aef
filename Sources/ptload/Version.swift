/// What `ptload --version` prints.
let ptloadVersion = "0.1.0"

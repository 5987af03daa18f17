package main

import "github.com/google/go-containerregistry/pkg/authn"

func keychain() authn.Keychain { return authn.DefaultKeychain }

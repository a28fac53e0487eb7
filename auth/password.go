package auth

import (
	"encoding/base64"

	"golang.org/x/crypto/bcrypt"
)

// DefaultBcryptCost is etcd's --bcrypt-cost default.
const DefaultBcryptCost = bcrypt.DefaultCost

// ValidBcryptCost reports whether cost is one bcrypt accepts.
func ValidBcryptCost(cost int) bool { return cost >= bcrypt.MinCost && cost <= bcrypt.MaxCost }

// Hash returns the bcrypt hash of password as etcd's requests carry it
// (HashedPassword: base64). The member that receives the request hashes;
// apply only stores the hash (invariant 1).
func Hash(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(h), nil
}

// CheckPassword compares a password with a stored hash; it takes bcrypt's
// time, tens of milliseconds at the default cost.
func CheckPassword(hash []byte, password string) error {
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return ErrAuthFailed
	}
	return nil
}

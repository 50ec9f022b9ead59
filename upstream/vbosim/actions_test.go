package vbosim

func actionContractCalls(h *harness, ver string, sess map[string]string, tree *OrgTree) []rcontract {
	return nil
}
